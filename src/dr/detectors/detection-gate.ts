import type { DrDetectionsTable } from '../../catalog/dr-detections-table.js';
import type { DrScenario } from '../../config/dr-schema.js';
import type { Firing } from './detector.js';

export const DEFAULT_COOLDOWN_MS = 5 * 60_000;

export type GateDecision =
  | { decision: 'start'; detectionId: number }
  /** `automatic` is not true: the detection is recorded (and announced) for a person to decide. */
  | { decision: 'record-only'; detectionId: number }
  | { decision: 'suppressed'; reason: 'cooldown' | 'active'; detectionId: number };

/**
 * What `dr watch` does with a firing: start the scenario, only record it, or suppress it
 * because an execution of the scenario is already active or the last start was less than
 * `cooldown` (default 5 minutes) ago. Several triggers of one scenario firing for one
 * failure start it once. Every decision is recorded in dr_detections; after a start, the
 * caller attaches the execution with `started`.
 */
export class DetectionGate {
  private readonly lastStart = new Map<string, number>();

  constructor(
    private readonly detections: DrDetectionsTable,
    private readonly isActive: (scenarioId: string) => boolean,
  ) {}

  decide(scenario: DrScenario, firing: Firing): GateDecision {
    const detectionId = this.detections.record({ scenarioId: scenario.id, trigger: firing.trigger, at: firing.at });
    if (this.isActive(scenario.id)) return { decision: 'suppressed', reason: 'active', detectionId };
    const cooldown = scenario.cooldown ?? DEFAULT_COOLDOWN_MS;
    const last = this.lastStartOf(scenario.id, firing.at, cooldown);
    if (last !== undefined && firing.at.getTime() - last < cooldown) return { decision: 'suppressed', reason: 'cooldown', detectionId };
    if (scenario.automatic !== true) return { decision: 'record-only', detectionId };
    return { decision: 'start', detectionId };
  }

  /**
   * The start happened: the cooldown runs from here. A start that failed (a busy catalog, a
   * plan that cannot be built) never calls this, so the next detection tries again.
   */
  started(detectionId: number, executionId: string, scenarioId: string, at: Date): void {
    this.lastStart.set(scenarioId, at.getTime());
    this.detections.attach(detectionId, executionId);
  }

  /** A watch restarted within the cooldown still honours it: a detection that started an execution is in the table. */
  private lastStartOf(scenarioId: string, at: Date, cooldown: number): number | undefined {
    const known = this.lastStart.get(scenarioId);
    if (known !== undefined) return known;
    const started = this.detections.list({ scenarioId, since: new Date(at.getTime() - cooldown) }).find((d) => d.executionId !== null);
    return started ? Date.parse(started.at) : undefined;
  }
}
