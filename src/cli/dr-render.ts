import type { ExecutionView, RecoveryTestResult, ScenarioSummary } from '../dr/disaster-recovery-orchestrator.js';
import type { DrObjective } from '../catalog/dr-executions-table.js';
import { createTable, formatDuration, shortTime } from './format.js';

/** Human renderings of DR results; `--json` prints the objects themselves. */

function objective(name: string, o: DrObjective): string {
  const target = o.targetSeconds === null ? 'no target' : `target ${formatDuration(o.targetSeconds * 1000)}`;
  if (o.achievedSeconds === null) return `${name}: ${target}, not measured`;
  return `${name}: ${formatDuration(o.achievedSeconds * 1000)} achieved, ${target}${o.met === null ? '' : o.met ? ' (met)' : ' (MISSED)'}`;
}

function stepTime(s: ExecutionView['steps'][number]): string {
  if (!s.startedAt) return '';
  const end = s.endedAt ? Date.parse(s.endedAt) : Date.now();
  return formatDuration(end - Date.parse(s.startedAt));
}

export function renderExecution(v: ExecutionView): string {
  const lines: string[] = [];
  const eta = v.estimatedCompletion ? `, ETA ${shortTime(v.estimatedCompletion)}` : '';
  lines.push(`execution ${v.id} of ${v.scenarioId}: ${v.status}${v.dryRun ? ' (dry run)' : ''}, ${v.progress}%${eta}`);
  lines.push(`triggered by ${v.triggeredBy} at ${shortTime(v.startedAt)}${v.reason ? `: ${v.reason}` : ''}${v.endedAt ? `; ended ${shortTime(v.endedAt)}` : ''}`);
  if (v.steps.length > 0) {
    const table = createTable(v.dryRun ? ['#', 'step', 'type', 'preflight'] : ['step', 'type', 'status', 'tries', 'time', 'detail']);
    v.steps.forEach((s, i) => {
      if (v.dryRun) {
        const checks = s.preflight ?? [];
        const text = s.status === 'skipped' ? 'skipped (test)' : checks.map((c) => `${c.ok ? 'ok' : c.level === 'warning' ? 'WARN' : 'FAIL'} ${c.check}: ${c.detail}`).join('\n') || '-';
        table.push([String(i + 1), s.id, s.type, text]);
      } else table.push([s.id, s.type, s.status, String(s.attempts), stepTime(s), (s.error ?? s.detail ?? '').slice(0, 120)]);
    });
    lines.push(table.toString());
  }
  if (v.error) lines.push(`${v.dryRun ? 'problem' : 'error'}: ${v.error}`);
  if (!v.dryRun) lines.push(objective('RTO', v.rto), objective('RPO', v.rpo));
  const waiting = v.steps.find((s) => s.status === 'waiting-approval');
  if (waiting) lines.push(`waiting for approval: bkdr dr approve ${v.id} ${waiting.id}  (or reject)`);
  if (v.status === 'interrupted') lines.push(`continue it with: bkdr dr resume ${v.id}`);
  return lines.join('\n');
}

export function renderHistory(views: ExecutionView[]): string {
  if (views.length === 0) return 'no DR executions';
  const table = createTable(['execution', 'scenario', 'status', 'started', 'by', 'RTO', 'RPO']);
  const cell = (o: DrObjective) => (o.achievedSeconds === null ? '-' : `${formatDuration(o.achievedSeconds * 1000)}${o.met === false ? ' MISSED' : ''}`);
  for (const v of views) table.push([v.id.slice(0, 8), v.scenarioId, `${v.status}${v.dryRun ? ' (dry)' : ''}`, shortTime(v.startedAt), v.triggeredBy, cell(v.rto), cell(v.rpo)]);
  return table.toString();
}

export function renderScenarios(list: ScenarioSummary[]): string {
  if (list.length === 0) return 'no scenarios in the config';
  const table = createTable(['scenario', 'severity', 'RTO', 'RPO', 'plans', 'triggers', 'automatic']);
  for (const s of list) {
    table.push([
      `${s.id}\n${s.name}${s.problem ? `\nPROBLEM: ${s.problem}` : ''}`,
      s.severity,
      formatDuration(s.rtoSeconds * 1000),
      formatDuration(s.rpoSeconds * 1000),
      s.plans.map((p) => `${p.priority}. ${p.planId} (${p.steps} steps)${p.dependsOn.length ? ` after ${p.dependsOn.join(', ')}` : ''}`).join('\n'),
      s.triggers.map((t) => `${t.type}: ${t.condition}`).join('\n') || 'manual only',
      s.automatic ? 'yes' : 'no',
    ]);
  }
  return table.toString();
}

export function renderPlan(steps: { order: number; id: string; type: string; dependsOn: readonly string[]; step: unknown }[]): string {
  const table = createTable(['#', 'step', 'type', 'after', 'what']);
  for (const s of steps) table.push([String(s.order), s.id, s.type, s.dependsOn.join(', ') || '-', describeStep(s.step as Record<string, unknown>)]);
  return table.toString();
}

function describeStep(step: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['source', 'at', 'target', 'command', 'url', 'query', 'message', 'webhook', 'duration']) {
    const value = step[key];
    if (value === undefined) continue;
    parts.push(key === 'duration' && typeof value === 'number' ? `wait ${formatDuration(value)}` : `${key}: ${String(value)}`);
  }
  if (typeof step['timeout'] === 'number') parts.push(`timeout ${formatDuration(step['timeout'])}`);
  if (typeof step['retries'] === 'number' && step['retries'] > 0) parts.push(`retries ${step['retries']}`);
  if (step['onFailure'] && step['onFailure'] !== 'abort') parts.push(`onFailure ${String(step['onFailure'])}`);
  return parts.join('\n').slice(0, 300);
}

export function renderTestResult(r: RecoveryTestResult): string {
  const table = createTable(['scenario', 'result', 'executions', 'RTO', 'RPO', 'detected after', 'why']);
  const cell = (o: DrObjective | undefined) => (o?.achievedSeconds == null ? '-' : `${formatDuration(o.achievedSeconds * 1000)}${o.met === false ? ' MISSED' : ''}`);
  for (const s of r.scenarios) {
    const last = s.executions.at(-1);
    table.push([
      s.scenarioId,
      s.passed ? 'passed' : 'FAILED',
      s.executions.map((e) => `${e.id.slice(0, 8)} ${e.status}`).join('\n') || '-',
      cell(last?.rto),
      cell(last?.rpo),
      s.detectionSeconds === undefined ? '-' : formatDuration(s.detectionSeconds * 1000),
      s.reason ?? '',
    ]);
  }
  return `DR test ${r.suite} (${r.type}): ${r.passed ? 'passed' : 'FAILED'}\n${table.toString()}`;
}
