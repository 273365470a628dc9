import type { DrTrigger } from '../../config/dr-schema.js';

/** What a detector saw, once, when its condition became true. */
export interface Firing {
  /** One line naming the trigger: `log ERROR.*database.*corruption in /var/log/app.log`. */
  trigger: string;
  /** When the detector decided. */
  at: Date;
  /**
   * The best estimate of when the failure began: the first failing health sample of the
   * run, the first matching line, the first scrape above the threshold. Achieved RPO and
   * RTO count from here, not from `at`.
   */
  failureAt: Date;
  detail: string;
}

/**
 * Watches one trigger of one scenario (DESIGN.md "Detectors"). `run` lasts until the
 * signal aborts and fires on the edge (false → true), not at every poll while the
 * condition stays true; it never throws for a failing probe, which is either the
 * condition itself (a health check) or logged and treated as not true (a scrape).
 */
export interface Detector {
  readonly scenarioId: string;
  readonly trigger: string;
  run(fire: (f: Firing) => void, signal: AbortSignal): Promise<void>;
  /** One evaluation, for `dr watch --once`; absent where one look cannot tell (a log tail, an external trigger). */
  once?(): Promise<Firing | undefined>;
  /** Takes the starting point (a log tail's end of file) before the watch says it is watching. */
  prime?(): Promise<void>;
}

/**
 * The fields of a trigger by type. The schema's transform (which maps the old type names)
 * flattens its discriminated union, so the type alone does not narrow it.
 */
export interface LogTrigger {
  type: 'log';
  condition: string;
  for?: number | undefined;
  paths?: string[] | undefined;
  count?: number | undefined;
  within?: number | undefined;
}
export interface ConditionTrigger {
  type: 'metric' | 'health_check' | 'external';
  condition: string;
  for?: number | undefined;
}

/** The trigger as its type says it is. */
export function narrowTrigger(t: DrTrigger): LogTrigger | ConditionTrigger {
  return t as LogTrigger | ConditionTrigger;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The one-line name of a trigger in firings and the detections table; `paths` are the log files it reads. */
export function describeTrigger(trigger: DrTrigger, paths?: readonly string[]): string {
  const t = narrowTrigger(trigger);
  const held = t.for !== undefined && t.for > 0 ? ` for ${seconds(t.for)}` : '';
  if (t.type !== 'log') return `${t.type} ${t.condition}${held}`;
  const count = t.count !== undefined && t.count > 1 ? ` ${t.count} times` : '';
  const within = t.within !== undefined ? ` within ${seconds(t.within)}` : '';
  return `log ${t.condition} in ${(paths ?? t.paths ?? []).join(', ')}${count}${within}`;
}
