import type { Command } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { InterruptedError, UsageError } from '../../core/errors.js';
import type { DisasterRecoveryOrchestrator, ExecutionEvent, ExecutionView, RecoveryTestType, TriggerResult, WatchEvent } from '../../dr/disaster-recovery-orchestrator.js';
import type { CliContext } from '../context.js';
import { renderExecution, renderHistory, renderPlan, renderScenarios, renderTestResult } from '../dr-render.js';
import { createExecutionReporter } from '../dr-progress.js';
import { withExample } from '../with-example.js';
import { drOrchestrator, interruptSignal } from '../services.js';
import { invokingUser } from '../options.js';

const ENDED = new Set(['planned', 'succeeded', 'failed', 'rolled-back', 'interrupted']);

/** CLI.md exit codes for an execution's end: a dry run whose preflight failed is a usage problem (2). */
function exitCodeOf(result: TriggerResult): number {
  if (result.status === 'planned') return result.preflightOk === false ? ExitCode.Usage : ExitCode.Ok;
  if (result.status === 'succeeded') return ExitCode.Ok;
  if (result.status === 'interrupted') return ExitCode.Interrupted;
  return ExitCode.Failed;
}

export function registerDr(program: Command, ctx: CliContext): void {
  const dr = withExample(program.command('dr').description('disaster recovery: scenarios, recovery plans, executions, tests'), 'bkdr dr trigger db-failure --dry-run');

  withExample(
    dr
      .command('list')
      .description('scenarios with their plans and triggers')
      .action(async () => {
        const orchestrator = await drOrchestrator(ctx);
        ctx.render(orchestrator.listScenarios(), renderScenarios);
      }),
    'bkdr dr list --json',
  );

  withExample(
    dr
      .command('plan <planId>')
      .description("a recovery plan's steps in execution order (a scenario id shows all its plans)")
      .action(async (planId: string) => {
        const orchestrator = await drOrchestrator(ctx);
        const graph = orchestrator.getPlan(planId);
        ctx.render(
          graph.steps.map((s, i) => ({ order: i + 1, id: s.id, planId: s.planId, type: s.step.type, dependsOn: s.dependsOn, priority: s.priority, step: s.step })),
          renderPlan,
        );
      }),
    'bkdr dr plan database-recovery',
  );

  withExample(
    dr
      .command('trigger <scenarioId>')
      .description("run a scenario's recovery plans (asks first on a terminal)")
      .option('--dry-run', 'run nothing: the ordered steps and a preflight of each')
      .option('--reason <text>', 'why (kept with the execution and in the audit trail)')
      .option('--at <time>', 'restore to this point in time instead of the latest')
      .option('--yes', 'do not ask')
      .action(async (scenarioId: string, flags: { dryRun?: boolean; reason?: string; at?: string; yes?: boolean }) => {
        const orchestrator = await drOrchestrator(ctx);
        if (!flags.dryRun) await confirmTrigger(ctx, orchestrator, scenarioId, flags.yes === true);
        const result = await reporting(ctx, (signal, onEvent) =>
          orchestrator.triggerRecovery(scenarioId, {
            triggeredBy: invokingUser(),
            dryRun: flags.dryRun ?? false,
            ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
            ...(flags.at !== undefined ? { at: flags.at } : {}),
            signal,
            onEvent,
          }),
        );
        ctx.render(result, renderExecution);
        process.exitCode = exitCodeOf(result);
      }),
    'bkdr dr trigger db-failure --dry-run',
    'bkdr dr trigger db-failure --reason "primary down" --yes',
  );

  withExample(
    dr
      .command('status [executionId]')
      .description('progress, current steps and ETA of an execution (default: those in progress)')
      .option('--watch', 'follow until it ends')
      .action(async (executionId: string | undefined, flags: { watch?: boolean }) => {
        const orchestrator = await drOrchestrator(ctx);
        const read = (): ExecutionView[] => {
          if (executionId !== undefined) return [orchestrator.getRecoveryStatus(executionId)];
          const active = orchestrator.activeExecutions();
          return active.length > 0 ? active : orchestrator.getHistory({ limit: 1 });
        };
        if (!flags.watch) {
          const views = read();
          if (views.length === 0) throw new UsageError('no DR execution yet; `bkdr dr trigger <scenario>` starts one');
          ctx.render(executionId !== undefined ? views[0] : views, (v) => (Array.isArray(v) ? v.map(renderExecution).join('\n\n') : renderExecution(v as ExecutionView)));
          return;
        }
        await watchStatus(ctx, read);
      }),
    'bkdr dr status --watch',
  );

  for (const decision of ['approve', 'reject'] as const) {
    withExample(
      dr
        .command(`${decision} <executionId> [stepId]`)
        .description(`${decision} the approval step an execution waits on`)
        .option('--by <name>', 'who decides (default: the user running bkdr)')
        .option('--reason <text>', 'why (kept in the audit trail)')
        .action(async (executionId: string, stepId: string | undefined, flags: { by?: string; reason?: string }) => {
          const orchestrator = await drOrchestrator(ctx);
          const opts = { stepId, by: flags.by ?? invokingUser(), reason: flags.reason };
          const record = decision === 'approve' ? orchestrator.approve(executionId, opts) : orchestrator.reject(executionId, opts);
          ctx.render(record, (r) => `step ${r.stepId} of execution ${r.executionId} ${decision === 'approve' ? 'approved' : 'rejected'} by ${r.by}`);
        }),
      `bkdr dr ${decision} 7c01e2b4 --by oncall-lead`,
    );
  }

  withExample(
    dr
      .command('resume <executionId>')
      .description('continue an interrupted execution; finished steps are not run again')
      .action(async (executionId: string) => {
        const orchestrator = await drOrchestrator(ctx);
        const result = await reporting(ctx, (signal, onEvent) => orchestrator.resumeRecovery(executionId, { by: invokingUser(), signal, onEvent }));
        ctx.render(result, renderExecution);
        process.exitCode = exitCodeOf(result);
      }),
    'bkdr dr resume 7c01e2b4',
  );

  withExample(
    dr
      .command('test <suite>')
      .description('run a DR test suite (drTests) or one scenario against scratch targets; results go to dr history')
      .option('--type <type>', 'for a scenario: component | integration | e2e | chaos (default e2e)')
      .option('--scope <system...>', 'only scenarios affecting these systems')
      .option('--parallel', "run the suite's scenarios side by side")
      .option('--dry-run', 'preflight only: run nothing')
      .action(async (suite: string, flags: { type?: string; scope?: string[]; parallel?: boolean; dryRun?: boolean }) => {
        if (flags.type !== undefined && !['component', 'integration', 'e2e', 'chaos'].includes(flags.type))
          throw new UsageError(`--type must be component, integration, e2e or chaos, not ${flags.type}`);
        const orchestrator = await drOrchestrator(ctx);
        const result = await reporting(ctx, (signal, onEvent) =>
          orchestrator.runRecoveryTest(suite, { type: flags.type as RecoveryTestType | undefined, scope: flags.scope, parallel: flags.parallel, dryRun: flags.dryRun, signal, onEvent }),
        );
        ctx.render(result, renderTestResult);
        if (!result.passed) process.exitCode = result.interrupted ? ExitCode.Interrupted : ExitCode.Failed;
      }),
    'bkdr dr test quarterly',
    'bkdr dr test db-failure --type chaos',
  );

  withExample(
    dr
      .command('watch')
      .description('run the detectors of every scenario; start (or announce) the scenario when one fires')
      .option('--once', 'one look at each health check and metric, then exit (for cron)')
      .action(async (flags: { once?: boolean }) => {
        const orchestrator = await drOrchestrator(ctx);
        const reporter = await createExecutionReporter(ctx);
        const interrupt = interruptSignal();
        try {
          const result = await orchestrator.watch({
            once: flags.once ?? false,
            signal: interrupt.signal,
            onEvent: (e) => (e.type === 'execution' ? reporter.onEvent(e.event) : reportWatchEvent(ctx, e)),
          });
          if (flags.once) ctx.render({ detections: result.detections, executions: result.executions }, (r) => `${r.detections} detections, ${r.executions.length} executions started`);
          if (result.executions.some((e) => e.status !== 'succeeded')) process.exitCode = ExitCode.Failed;
        } finally {
          reporter.stop();
          interrupt.dispose();
        }
        // A stop on SIGTERM is how a watch ends.
        if (interrupt.signal.aborted) process.exitCode = ExitCode.Ok;
      }),
    'bkdr dr watch',
    'bkdr dr watch --once',
  );

  withExample(
    dr
      .command('history')
      .description('past executions with achieved RTO and RPO, newest first')
      .option('--scenario <id>', 'only this scenario')
      .option('--since <time>', "started at or after (ISO-8601 or '7 days ago')")
      .action(async (flags: { scenario?: string; since?: string }) => {
        const orchestrator = await drOrchestrator(ctx);
        ctx.render(orchestrator.getHistory({ scenarioId: flags.scenario, since: flags.since }), renderHistory);
      }),
    'bkdr dr history --json',
  );
}

/** Runs a DR operation with its events rendered on stderr and Ctrl-C turned into a clean interruption. */
async function reporting<T>(ctx: CliContext, run: (signal: AbortSignal, onEvent: (e: ExecutionEvent) => void) => Promise<T>): Promise<T> {
  const reporter = await createExecutionReporter(ctx);
  const interrupt = interruptSignal();
  try {
    return await run(interrupt.signal, reporter.onEvent);
  } finally {
    reporter.stop();
    interrupt.dispose();
  }
}

/** On a terminal, asks; elsewhere `--yes` is required (CLI.md: never guess without a TTY). */
async function confirmTrigger(ctx: CliContext, orchestrator: DisasterRecoveryOrchestrator, scenarioId: string, yes: boolean): Promise<void> {
  const graph = orchestrator.getPlan(scenarioId);
  if (yes || ctx.options.yes) return;
  const question = `run scenario ${scenarioId}: ${graph.steps.length} steps (${graph.steps.map((s) => s.id).join(', ')})?`;
  if (!ctx.interactive) throw new UsageError(`${question} — refusing without a terminal; pass --yes (or --dry-run to see what it would do)`);
  const { confirm } = await import('@inquirer/prompts');
  const { interruptFromPrompt } = await import('../prompt-interrupt.js');
  const ok = await confirm({ message: question, default: false }, { output: process.stderr }).catch((err: unknown) => {
    throw interruptFromPrompt(err) ?? err;
  });
  if (!ok) throw new UsageError('cancelled; nothing was run');
}

/** Redraws (or, with --json, prints a line per change) until every execution shown has ended. */
async function watchStatus(ctx: CliContext, read: () => ExecutionView[]): Promise<void> {
  const interrupt = interruptSignal();
  let last = '';
  try {
    for (;;) {
      const views = read();
      if (views.length === 0) throw new UsageError('no DR execution to watch');
      const text = ctx.options.json ? views.map((v) => JSON.stringify(v)).join('\n') : views.map(renderExecution).join('\n\n');
      if (text !== last) {
        if (!ctx.options.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        process.stdout.write(`${text}\n`);
        last = text;
      }
      if (views.every((v) => ENDED.has(v.status))) return;
      await new Promise((r) => setTimeout(r, 1_000));
      if (interrupt.signal.aborted) throw new InterruptedError('dr status --watch stopped; the execution goes on');
    }
  } finally {
    interrupt.dispose();
  }
}

/** Detections and starts, one line each on stderr (NDJSON with --json): the watch's log. */
function reportWatchEvent(ctx: CliContext, e: Exclude<WatchEvent, { type: 'execution' }>): void {
  if (ctx.options.json) {
    process.stderr.write(`${JSON.stringify(e)}\n`);
    return;
  }
  const log = ctx.logger;
  switch (e.type) {
    case 'watching':
      log.info(`watching ${e.detectors.length} triggers${e.listening ? `; webhooks on ${e.listening}` : ''}`);
      for (const d of e.detectors) log.debug(`  ${d.scenarioId}: ${d.trigger}`);
      for (const d of e.skipped ?? []) log.warn(`not watched: ${d.scenarioId}: ${d.trigger} (${d.why})`);
      break;
    case 'detection':
      log.warn(
        `${e.scenarioId}: ${e.trigger} fired: ${e.detail} → ${e.decision === 'start' ? 'starting its recovery' : e.decision === 'record-only' ? 'recorded (automatic is off)' : `suppressed (${e.reason === 'active' ? 'an execution is running' : 'cooldown'})`}`,
      );
      break;
    case 'execution-started':
      log.warn(`${e.scenarioId}: execution ${e.executionId} started`);
      break;
    case 'execution-ended':
      log[e.status === 'succeeded' ? 'info' : 'error'](`${e.scenarioId}: execution ${e.executionId} ${e.status}${e.error ? `: ${e.error}` : ''}`);
      break;
  }
}
