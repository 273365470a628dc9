import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { LockedError, OperationError, UsageError } from '../core/errors.js';
import { processAlive } from '../core/process-alive.js';
import { rowByIdPrefix } from './id-prefix.js';

/** CLI.md's execution statuses, plus `interrupted`: the process running it died (`dr resume` continues it). */
export type DrExecutionStatus = 'planned' | 'running' | 'waiting-approval' | 'succeeded' | 'failed' | 'rolled-back' | 'interrupted';
export type DrStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'rolled-back' | 'waiting-approval';
export type DrApprovalDecision = 'approve' | 'reject';

/**
 * Who started a DR test: `dr-test:<type>:<suite>`. Tests are evidence (KPIs, compliance),
 * not recoveries: they open no incident and do not count toward the mean time to recovery.
 */
export const drTestTrigger = (type: string, suite: string): string => `dr-test:${type}:${suite}`;
export const isDrTest = (e: { triggeredBy: string }): boolean => e.triggeredBy.startsWith('dr-test:');

/** Statuses in which a process is (or was, until reaped) working on an execution. */
export const ACTIVE_DR_STATUSES: readonly DrExecutionStatus[] = ['running', 'waiting-approval'];

export interface DrObjective {
  targetSeconds: number | null;
  achievedSeconds: number | null;
  /** Null until both are known. */
  met: boolean | null;
}

export interface DrStepRecord {
  /** 'planId/stepId': unique within the execution. */
  id: string;
  planId: string;
  type: string;
  status: DrStepStatus;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  output: unknown;
  weight: number;
}

/** CLI.md's `dr status --json` shape without progress and ETA (the executor computes them), plus what only the catalog keeps. */
export interface DrExecutionRecord {
  id: string;
  scenarioId: string;
  status: DrExecutionStatus;
  dryRun: boolean;
  triggeredBy: string;
  reason: string | null;
  detectionAt: string | null;
  failureAt: string | null;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
  host: string | null;
  pid: number | null;
  plan: unknown;
  steps: DrStepRecord[];
  rto: DrObjective;
  rpo: DrObjective;
}

export interface DrApprovalRecord {
  executionId: string;
  stepId: string;
  decision: DrApprovalDecision;
  by: string;
  reason: string | null;
  at: string;
}

export interface NewDrExecution {
  scenarioId: string;
  dryRun?: boolean;
  triggeredBy: string;
  reason?: string;
  detectionAt?: Date;
  failureAt?: Date;
  startedAt?: Date;
  rtoTargetSeconds?: number;
  rpoTargetSeconds?: number;
  plan: unknown;
  steps: { planId: string; stepId: string; type: string; weight?: number }[];
}

export interface DrStepPatch {
  status?: DrStepStatus;
  attempts?: number;
  startedAt?: Date | null;
  endedAt?: Date | null;
  error?: string | null;
  output?: unknown;
  weight?: number;
}

interface ExecutionRow {
  id: string;
  scenario_id: string;
  status: DrExecutionStatus;
  dry_run: number;
  triggered_by: string;
  reason: string | null;
  detection_at: string | null;
  started_at: string;
  ended_at: string | null;
  rto_target_seconds: number | null;
  rto_achieved_seconds: number | null;
  rpo_target_seconds: number | null;
  rpo_achieved_seconds: number | null;
  failure_at: string | null;
  host: string | null;
  pid: number | null;
  error: string | null;
  plan: string;
}

interface StepRow {
  step_id: string;
  plan_id: string;
  type: string;
  status: DrStepStatus;
  attempts: number;
  started_at: string | null;
  ended_at: string | null;
  error: string | null;
  output: string | null;
  weight: number;
}

interface ApprovalRow {
  execution_id: string;
  step_id: string;
  decision: DrApprovalDecision;
  by: string;
  reason: string | null;
  at: string;
}

const objective = (target: number | null, achieved: number | null): DrObjective => ({
  targetSeconds: target,
  achievedSeconds: achieved,
  met: target === null || achieved === null ? null : achieved <= target,
});

const toStep = (r: StepRow): DrStepRecord => ({
  id: r.step_id,
  planId: r.plan_id,
  type: r.type,
  status: r.status,
  attempts: r.attempts,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error: r.error,
  output: r.output === null ? null : (JSON.parse(r.output) as unknown),
  weight: r.weight,
});

const toApproval = (r: ApprovalRow): DrApprovalRecord => ({ executionId: r.execution_id, stepId: r.step_id, decision: r.decision, by: r.by, reason: r.reason, at: r.at });

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** DR executions and their steps and approvals (DESIGN.md "Disaster recovery": the executor persists each change). */
export class DrExecutionsTable {
  constructor(private readonly db: Database.Database) {}

  /** Records the execution and its planned steps (all `pending`) at once; a dry run is `planned`. Returns its id. */
  create(e: NewDrExecution): string {
    const id = randomBytes(8).toString('hex');
    const insert = this.db.prepare(
      `INSERT INTO dr_executions (id, scenario_id, status, dry_run, triggered_by, reason, detection_at, started_at, rto_target_seconds, rpo_target_seconds, failure_at, host, pid, plan)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertStep = this.db.prepare("INSERT INTO dr_steps (execution_id, step_id, plan_id, type, status, weight) VALUES (?, ?, ?, ?, 'pending', ?)");
    this.db
      .transaction(() => {
        // Checked inside the write transaction: two triggers at once cannot both start the scenario.
        if (!e.dryRun) {
          const busy = this.db.prepare("SELECT id, status, started_at FROM dr_executions WHERE scenario_id = ? AND status IN ('running', 'waiting-approval') LIMIT 1").get(e.scenarioId) as
            { id: string; status: string; started_at: string } | undefined;
          if (busy) throw new LockedError(`scenario ${e.scenarioId} already has execution ${busy.id} ${busy.status} (started ${busy.started_at}); it is not started twice`);
        }
        insert.run(
          id,
          e.scenarioId,
          e.dryRun ? 'planned' : 'running',
          e.dryRun ? 1 : 0,
          e.triggeredBy,
          e.reason ?? null,
          iso(e.detectionAt),
          (e.startedAt ?? new Date()).toISOString(),
          e.rtoTargetSeconds ?? null,
          e.rpoTargetSeconds ?? null,
          iso(e.failureAt),
          hostname(),
          process.pid,
          JSON.stringify(e.plan ?? null),
        );
        for (const s of e.steps) insertStep.run(id, `${s.planId}/${s.stepId}`, s.planId, s.type, s.weight ?? 1);
      })
      .immediate();
    return id;
  }

  /** By full id or a unique prefix (as `bkdr dr status 7c01e2b4`). */
  get(idOrPrefix: string): DrExecutionRecord | undefined {
    const row = rowByIdPrefix<ExecutionRow>(this.db, 'dr_executions', idOrPrefix, 'execution');
    return row ? this.toRecord(row) : undefined;
  }

  /** Newest first (`dr history`). `since`: started at or after. */
  list(filter: { scenarioId?: string; since?: Date; limit?: number } = {}): DrExecutionRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.scenarioId !== undefined) {
      where.push('scenario_id = ?');
      args.push(filter.scenarioId);
    }
    if (filter.since) {
      where.push('started_at >= ?');
      args.push(filter.since.toISOString());
    }
    const sql = `SELECT * FROM dr_executions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 100) as ExecutionRow[]).map((r) => this.toRecord(r));
  }

  /** The newest DR test that ran (dry runs plan, they do not test). */
  latestTest(): DrExecutionRecord | undefined {
    const row = this.db.prepare("SELECT * FROM dr_executions WHERE triggered_by LIKE 'dr-test:%' AND dry_run = 0 ORDER BY started_at DESC, rowid DESC LIMIT 1").get() as ExecutionRow | undefined;
    return row ? this.toRecord(row) : undefined;
  }

  /** Executions a process is working on (a scenario with one is not triggered twice). */
  active(scenarioId?: string): DrExecutionRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM dr_executions WHERE status IN ('running', 'waiting-approval') ${scenarioId === undefined ? '' : 'AND scenario_id = ?'} ORDER BY started_at`)
      .all(...(scenarioId === undefined ? [] : [scenarioId])) as ExecutionRow[];
    return rows.map((r) => this.toRecord(r));
  }

  /** `running` ⇄ `waiting-approval` while the executor goes on. */
  setStatus(id: string, status: 'running' | 'waiting-approval'): void {
    const changed = this.db.prepare("UPDATE dr_executions SET status = ? WHERE id = ? AND status IN ('running', 'waiting-approval')").run(status, id).changes;
    if (changed === 0) throw new OperationError(`execution ${id} is not active; cannot set it ${status}`);
  }

  updateStep(executionId: string, stepId: string, patch: DrStepPatch): void {
    const sets: string[] = [];
    const args: unknown[] = [];
    const set = (column: string, value: unknown) => {
      sets.push(`${column} = ?`);
      args.push(value);
    };
    if (patch.status !== undefined) set('status', patch.status);
    if (patch.attempts !== undefined) set('attempts', patch.attempts);
    if (patch.startedAt !== undefined) set('started_at', iso(patch.startedAt));
    if (patch.endedAt !== undefined) set('ended_at', iso(patch.endedAt));
    if (patch.error !== undefined) set('error', patch.error);
    if (patch.output !== undefined) set('output', patch.output === null ? null : JSON.stringify(patch.output));
    if (patch.weight !== undefined) set('weight', patch.weight);
    if (sets.length === 0) return;
    const changed = this.db.prepare(`UPDATE dr_steps SET ${sets.join(', ')} WHERE execution_id = ? AND step_id = ?`).run(...args, executionId, stepId).changes;
    if (changed === 0) throw new OperationError(`execution ${executionId} has no step ${stepId}`);
  }

  /** Ends an execution; a dry run ends `planned`. Achieved objectives in seconds. */
  finish(id: string, status: 'planned' | 'succeeded' | 'failed' | 'rolled-back', fields: { endedAt?: Date; error?: string; rtoAchievedSeconds?: number; rpoAchievedSeconds?: number } = {}): void {
    const changed = this.db
      .prepare(
        `UPDATE dr_executions SET status = ?, ended_at = ?, error = ?,
           rto_achieved_seconds = COALESCE(?, rto_achieved_seconds), rpo_achieved_seconds = COALESCE(?, rpo_achieved_seconds)
         WHERE id = ?`,
      )
      .run(status, (fields.endedAt ?? new Date()).toISOString(), fields.error ?? null, fields.rtoAchievedSeconds ?? null, fields.rpoAchievedSeconds ?? null, id).changes;
    if (changed === 0) throw new OperationError(`no execution ${id}`);
  }

  /**
   * This process stops working on the execution (Ctrl-C, SIGTERM): `interrupted`, with
   * its unfinished steps back to `pending`, so `dr resume` takes it over.
   */
  markInterrupted(id: string, error: string): void {
    this.db
      .transaction(() => {
        this.db.prepare("UPDATE dr_executions SET status = 'interrupted', error = ? WHERE id = ? AND status IN ('running', 'waiting-approval')").run(error, id);
        this.db.prepare("UPDATE dr_steps SET status = 'pending', started_at = NULL WHERE execution_id = ? AND status IN ('running', 'waiting-approval')").run(id);
      })
      .immediate();
  }

  /**
   * Records `dr approve|reject` for a step waiting for approval. `stepId` may be the
   * step's own id when only one plan has it, or omitted when only one step waits.
   */
  recordApproval(a: { executionId: string; stepId?: string; decision: DrApprovalDecision; by: string; reason?: string; at?: Date }): DrApprovalRecord {
    return this.db
      .transaction(() => {
        const execution = this.get(a.executionId);
        if (!execution) throw new UsageError(`no execution ${a.executionId}`);
        const step = resolveStep(execution, a.stepId);
        const decided = this.decision(execution.id, step.id);
        if (decided) throw new UsageError(`step ${step.id} of execution ${execution.id} was already ${decided.decision === 'approve' ? 'approved' : 'rejected'} by ${decided.by}`);
        if (step.status !== 'waiting-approval') throw new UsageError(`step ${step.id} of execution ${execution.id} is not waiting for approval (it is ${step.status})`);
        const row: ApprovalRow = { execution_id: execution.id, step_id: step.id, decision: a.decision, by: a.by, reason: a.reason ?? null, at: (a.at ?? new Date()).toISOString() };
        this.db
          .prepare('INSERT INTO dr_approvals (execution_id, step_id, decision, by, reason, at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(row.execution_id, row.step_id, row.decision, row.by, row.reason, row.at);
        return toApproval(row);
      })
      .immediate();
  }

  /** The decision on an approval step, once someone made it (the executor polls this). */
  decision(executionId: string, stepId: string): DrApprovalRecord | undefined {
    const row = this.db.prepare('SELECT * FROM dr_approvals WHERE execution_id = ? AND step_id = ?').get(executionId, stepId) as ApprovalRow | undefined;
    return row ? toApproval(row) : undefined;
  }

  /** Whether the step waits for an approval nobody has given yet. */
  pendingApproval(executionId: string, stepId: string): boolean {
    const row = this.db
      .prepare(
        `SELECT 1 FROM dr_steps s WHERE s.execution_id = ? AND s.step_id = ? AND s.status = 'waiting-approval'
           AND NOT EXISTS (SELECT 1 FROM dr_approvals a WHERE a.execution_id = s.execution_id AND a.step_id = s.step_id)`,
      )
      .get(executionId, stepId);
    return row !== undefined;
  }

  /**
   * Marks `interrupted` the active executions of this host whose process is gone: nothing
   * else ever finishes them, and `dr resume` takes them over. Executions of another host
   * are left alone (their processes cannot be seen from here). Returns their ids.
   */
  reapDied(): string[] {
    const active = this.db.prepare("SELECT id, pid FROM dr_executions WHERE status IN ('running', 'waiting-approval') AND host = ? AND pid IS NOT NULL").all(hostname()) as {
      id: string;
      pid: number;
    }[];
    const died = active.filter((r) => r.pid !== process.pid && !processAlive(r.pid));
    const mark = this.db.prepare("UPDATE dr_executions SET status = 'interrupted', error = ? WHERE id = ? AND pid = ? AND status IN ('running', 'waiting-approval')");
    const reset = this.db.prepare("UPDATE dr_steps SET status = 'pending', started_at = NULL WHERE execution_id = ? AND status IN ('running', 'waiting-approval')");
    for (const r of died) if (mark.run(`process ${r.pid} ended without finishing the execution; \`dr resume ${r.id}\` continues it`, r.id, r.pid).changes > 0) reset.run(r.id);
    return died.map((r) => r.id);
  }

  /**
   * `dr resume`: takes over an interrupted execution for this process, atomically (the
   * write lock is taken before reading), so two resumes cannot both run it. Steps left
   * `running` never finished and go back to `pending`; finished steps stay as they are.
   * Fails when a live process still holds it, or when it is finished.
   */
  claimForResume(idOrPrefix: string): DrExecutionRecord {
    return this.db
      .transaction(() => {
        const e = this.get(idOrPrefix);
        if (!e) throw new UsageError(`no execution ${idOrPrefix}`);
        if (ACTIVE_DR_STATUSES.includes(e.status)) {
          if (e.host !== hostname()) throw new OperationError(`execution ${e.id} is ${e.status} on host ${e.host ?? 'unknown'}; it can only be resumed there`);
          if (e.pid !== null && (e.pid === process.pid || processAlive(e.pid))) throw new OperationError(`execution ${e.id} is ${e.status} in process ${e.pid}; it is not interrupted`);
        } else if (e.status !== 'interrupted') {
          throw new UsageError(`execution ${e.id} is ${e.status}; only an interrupted execution can be resumed`);
        } else if (e.host === hostname() && e.pid !== null && e.pid !== process.pid && processAlive(e.pid)) {
          // Interrupted, but its process is still winding down (a restore that ignores its signal writes on): two would write one target.
          throw new OperationError(`execution ${e.id} was interrupted but process ${e.pid} is still ending; resume it once that process has exited`);
        }
        this.db.prepare("UPDATE dr_executions SET status = 'running', host = ?, pid = ?, ended_at = NULL, error = NULL WHERE id = ?").run(hostname(), process.pid, e.id);
        this.db.prepare("UPDATE dr_steps SET status = 'pending', started_at = NULL WHERE execution_id = ? AND status = 'running'").run(e.id);
        return this.get(e.id)!;
      })
      .immediate();
  }

  private toRecord(r: ExecutionRow): DrExecutionRecord {
    // rowid: the order the steps were planned in.
    const steps = (this.db.prepare('SELECT * FROM dr_steps WHERE execution_id = ? ORDER BY rowid').all(r.id) as StepRow[]).map(toStep);
    return {
      id: r.id,
      scenarioId: r.scenario_id,
      status: r.status,
      dryRun: r.dry_run === 1,
      triggeredBy: r.triggered_by,
      reason: r.reason,
      detectionAt: r.detection_at,
      failureAt: r.failure_at,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      error: r.error,
      host: r.host,
      pid: r.pid,
      plan: JSON.parse(r.plan) as unknown,
      steps,
      rto: objective(r.rto_target_seconds, r.rto_achieved_seconds),
      rpo: objective(r.rpo_target_seconds, r.rpo_achieved_seconds),
    };
  }
}

/** A step of the execution by its full id, its own id when unique, or the one waiting for approval. */
function resolveStep(execution: DrExecutionRecord, stepId: string | undefined): DrStepRecord {
  if (stepId === undefined) {
    const waiting = execution.steps.filter((s) => s.status === 'waiting-approval');
    if (waiting.length === 1) return waiting[0]!;
    if (waiting.length === 0) throw new UsageError(`execution ${execution.id} has no step waiting for approval`);
    throw new UsageError(`execution ${execution.id} has ${waiting.length} steps waiting for approval (${waiting.map((s) => s.id).join(', ')}); name one`);
  }
  const exact = execution.steps.find((s) => s.id === stepId);
  if (exact) return exact;
  const matching = execution.steps.filter((s) => s.id.endsWith(`/${stepId}`));
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) throw new UsageError(`execution ${execution.id} has no step ${stepId}`);
  throw new UsageError(`step id ${stepId} is in several plans of execution ${execution.id} (${matching.map((s) => s.id).join(', ')}); give planId/stepId`);
}
