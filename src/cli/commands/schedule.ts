import type { Command } from 'commander';
import type { BackupRunResult, PruneResult, WatchRunEvent } from '../../backup/backup-manager.js';
import type { RecoveryTestResult } from '../../dr/disaster-recovery-orchestrator.js';
import { ConfigError, InterruptedError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { runScheduleDaemon, type ScheduleDaemonEvent, type ScheduleRunner } from '../../scheduling/schedule-daemon.js';
import { describeSchedule, nextRuns, planSchedule, type ScheduledJob } from '../../scheduling/schedule-plan.js';
import type { SchedulerEvent } from '../../scheduling/scheduler.js';
import { applyProcessPriority } from '../../runtime/process-priority.js';
import { buildCrontab, buildSystemdUnits } from '../../scheduling/unit-files.js';
import type { CliContext } from '../context.js';
import { createTable, formatBytes, formatDuration, shortTime } from '../format.js';
import { withExample } from '../with-example.js';
import { backupManager, drOrchestrator, interruptSignal } from '../services.js';
import { unitTarget, unitUser } from '../unit-target.js';
import { continuousSources, reportWatchEvent } from '../watch-report.js';

/** What `schedule list --json` prints for each job. */
export interface ScheduleListEntry extends ScheduledJob {
  /** ISO times; empty for watch jobs, which no timer runs. Intervals count from now, as if the scheduler started now. */
  nextRuns: string[];
}

const NOTHING_SCHEDULED = 'nothing is scheduled: the config has no `schedule`, at the top level or on a source';

export function registerSchedule(program: Command, ctx: CliContext): void {
  const schedule = withExample(program.command('schedule').description('scheduled backups: list, run the scheduler, install cron/systemd units'), 'bkdr schedule list');

  withExample(
    schedule
      .command('list')
      .description('show schedules and their next run times')
      .action(async () => {
        const { config } = await ctx.config();
        const now = new Date();
        const entries: ScheduleListEntry[] = planSchedule(config).map((job) => ({
          ...job,
          nextRuns: job.kind !== 'watch' ? nextRuns(job.schedule, now, 3, job.scheduleFrom).map((d) => d.toISOString()) : [],
        }));
        ctx.render(entries, renderList);
      }),
    'bkdr schedule list --json',
  );

  withExample(
    schedule
      .command('run')
      .description('run due jobs in the foreground until SIGTERM')
      .option('--lock-wait <duration>', 'how long a job waits for a run outside this scheduler to release the repository (30s, 5m)')
      .action(async (flags: { lockWait?: string }) => {
        const { config } = await ctx.config();
        // Continuous sources are watched, with or without a schedule; the timer jobs are the others.
        const jobs = planSchedule(config).filter((j) => j.kind !== 'watch');
        const watched = continuousSources(config);
        if (jobs.length === 0 && watched.length === 0) throw new ConfigError('', NOTHING_SCHEDULED);
        const log = ctx.logger;
        const interrupt = interruptSignal();
        try {
          await runScheduleDaemon<ScheduledResult, WatchRunEvent>({
            jobs,
            watched,
            createRunner: () => scheduleRunner(ctx, flags.lockWait),
            // restorable: a non-root scheduler could not come back from nice 10, so it leaves the niceness alone.
            processPriority: (level) => {
              const applied = applyProcessPriority(level, { restorable: true });
              log.info(`schedule: priority ${applied.applied}`);
              return applied;
            },
            signal: interrupt.signal,
            onEvent: (e) => reportDaemonEvent(e, log),
          });
        } finally {
          interrupt.dispose();
        }
        // A stop on SIGTERM is how this command is meant to end, even if it cut a run short.
        process.exitCode = ExitCode.Ok;
      }),
    'bkdr schedule run',
  );

  withExample(
    schedule
      .command('install')
      .description('print crontab lines or systemd units that run the schedule')
      .option('--crontab', 'print crontab lines')
      .option('--systemd', 'print a systemd service and timer')
      .action(async (flags: { crontab?: boolean; systemd?: boolean }) => {
        if (Boolean(flags.crontab) === Boolean(flags.systemd)) throw new UsageError('schedule install: pass one of --crontab or --systemd');
        const loaded = await ctx.config();
        const jobs = planSchedule(loaded.config);
        if (jobs.length === 0) throw new ConfigError('', NOTHING_SCHEDULED);
        const target = unitTarget(loaded);
        process.stdout.write(flags.crontab ? buildCrontab(jobs, target) : buildSystemdUnits(jobs, target, unitUser()));
      }),
    'bkdr schedule install --systemd',
  );
}

// ---- list ----

function renderList(entries: ScheduleListEntry[]): string {
  if (entries.length === 0) return NOTHING_SCHEDULED;
  const table = createTable(['job', 'source', 'schedule', 'strategy', 'priority', 'next runs']);
  for (const e of entries) {
    table.push([e.id, e.source, describeSchedule(e.schedule), e.strategy, e.priority, e.kind === 'watch' ? 'continuous: bkdr backup watch' : e.nextRuns.map(shortTime).join('\n')]);
  }
  const lines = [table.toString()];
  if (entries.some((e) => e.kind === 'backup' && e.schedule.type === 'interval')) lines.push('interval schedules count from when `bkdr schedule run` starts');
  return lines.join('\n');
}

// ---- run ----

function reportDaemonEvent(e: ScheduleDaemonEvent<ScheduledResult, WatchRunEvent>, log: CliContext['logger']): void {
  if (e.type === 'starting') {
    const described = [...e.jobs.map((j) => `${j.id} ${describeSchedule(j.schedule)}`), ...e.watched.map((w) => `watch:${w} continuous`)];
    log.info(`schedule: ${described.join(', ')}; SIGTERM or Ctrl-C stops`);
  } else if (e.type === 'watch') reportWatchEvent(e.event, log);
  else reportSchedulerEvent(e.event, log);
}

type DrTestRun = RecoveryTestResult & { status: 'succeeded' | 'failed' };
type ScheduledResult = BackupRunResult | PruneResult | DrTestRun;

/** The backup service for backups and prunes, the DR service over it for DR tests. */
async function scheduleRunner(ctx: CliContext, lockWait: string | undefined): Promise<ScheduleRunner<ScheduledResult, WatchRunEvent>> {
  const manager = await backupManager(ctx, { lockWait });
  const orchestrator = await drOrchestrator(ctx, manager);
  return {
    createBackup: (source, opts) => manager.createBackup(source, opts),
    pruneBackups: (opts) => manager.pruneBackups(opts),
    watchSources: (sources, opts, onEvent) => manager.watchSources(sources, opts, onEvent),
    runRecoveryTest: async (suite, opts) => {
      const result = await orchestrator.runRecoveryTest(suite, opts);
      return { ...result, status: result.passed ? 'succeeded' : 'failed' };
    },
  };
}

function reportSchedulerEvent(e: SchedulerEvent<ScheduledResult>, log: CliContext['logger']): void {
  const what = 'job' in e ? `schedule: ${e.job.kind} ${e.job.source}` : 'schedule:';
  switch (e.type) {
    case 'started':
      log.info(`${what} started`);
      return;
    case 'finished': {
      if ('suite' in e.result) {
        const t = e.result;
        const line = `${what} ${t.passed ? 'passed' : 'FAILED'}: ${t.scenarios.map((x) => `${x.scenarioId} ${x.passed ? 'passed' : `failed (${x.reason ?? ''})`}`).join('; ')} in ${formatDuration(e.durationMs)}`;
        if (t.passed) log.info(line);
        else log.error(line);
        return;
      }
      if ('destinations' in e.result) {
        const p = e.result;
        const freed = p.destinations.map((d) => `${d.destination}: forgot ${d.forgotten}, freed ${formatBytes(d.report?.bytesFreed ?? 0)}`).join('; ');
        const failures = p.failures.map((f) => `${f.destination}: ${f.error}`).join('; ');
        const line = `${what} ${p.status} (${[freed, failures].filter(Boolean).join('; ')}) in ${formatDuration(e.durationMs)}, run ${p.runId.slice(0, 8)}`;
        if (p.status === 'succeeded') log.info(line);
        else log.error(line);
        return;
      }
      const r = e.result;
      const snapshots = r.backups.map((b) => b.snapshotId.slice(0, 8));
      const shown = snapshots.length === 1 ? `snapshot ${snapshots[0]}` : r.backups.map((b) => `${b.snapshotId.slice(0, 8)} on ${b.destination}`).join(', ');
      const failures = r.failures.map((f) => `${f.destination}: ${f.error}`).join('; ');
      const detail = [snapshots.length > 0 ? shown : '', failures].filter(Boolean).join('; ');
      const line = `${what} ${r.status}${detail ? ` (${detail})` : ''} in ${formatDuration(e.durationMs)}, run ${r.runId.slice(0, 8)}`;
      if (r.status === 'succeeded') log.info(line);
      else if (r.status === 'partial') log.warn(line);
      else log.error(line);
      return;
    }
    case 'failed':
      if (e.error instanceof InterruptedError) log.warn(`${what} interrupted after ${formatDuration(e.durationMs)}; it wrote no snapshot`);
      else log.error(`${what} failed after ${formatDuration(e.durationMs)}: ${e.error instanceof Error ? e.error.message : String(e.error)}`);
      return;
    case 'skipped':
      log.warn(`${what} skipped: ${e.reason}`);
      return;
    case 'stopping':
      log.info(`${what} stopping${e.running.length > 0 ? `; waiting for ${e.running.map((j) => `${j.kind} ${j.source}`).join(', ')} to stop` : ''}`);
      return;
    case 'stopped':
      log.info(`${what} stopped`);
      return;
  }
}
