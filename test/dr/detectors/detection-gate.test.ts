import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCatalog, type Catalog } from '../../../src/catalog/catalog.js';
import { scenarioSchema, type DrScenario } from '../../../src/config/dr-schema.js';
import { DetectionGate } from '../../../src/dr/detectors/detection-gate.js';
import type { Firing } from '../../../src/dr/detectors/detector.js';
import { makeTempDir } from '../../helpers/cli.js';

const t0 = Date.UTC(2026, 11, 5, 10, 0);
const minute = 60_000;

function scenario(fields: Record<string, unknown> = {}): DrScenario {
  return scenarioSchema.parse({ id: 'db-failure', name: 'DB', severity: 'critical', rto: 30, rpo: 5, affectedSystems: [], triggers: [], recoveryPlans: ['p'], automatic: true, ...fields });
}

function firing(minutes: number, trigger = 'health_check db == false'): Firing {
  const at = new Date(t0 + minutes * minute);
  return { trigger, at, failureAt: at, detail: '' };
}

describe('DetectionGate', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let catalog: Catalog;
  const active = new Set<string>();
  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-detection-gate-');
    catalog = openCatalog(join(tmp.path, 'catalog.db'));
    active.clear();
  });
  afterEach(async () => {
    catalog.close();
    await tmp.cleanup();
  });

  const gate = () => new DetectionGate(catalog.detections, (id) => active.has(id));

  /** A decision to start, followed by the start (the cooldown runs from a start that happened). */
  const startedAt = (g: DetectionGate, s: ReturnType<typeof scenario>, f: ReturnType<typeof firing>) => {
    const d = g.decide(s, f);
    if (d.decision === 'start') g.started(d.detectionId, catalog.drExecutions.create({ scenarioId: s.id, triggeredBy: 'detector', plan: {}, steps: [], dryRun: true }), s.id, f.at);
    return d;
  };

  it('starts an automatic scenario, suppresses a second firing within the cooldown, and records both', () => {
    const g = gate();
    const s = scenario({ cooldown: '5m' });
    expect(startedAt(g, s, firing(0))).toMatchObject({ decision: 'start' });
    expect(g.decide(s, firing(1, 'log corruption in app.log'))).toMatchObject({ decision: 'suppressed', reason: 'cooldown' });
    expect(startedAt(g, s, firing(6))).toMatchObject({ decision: 'start' });
    expect(catalog.detections.list({ scenarioId: 'db-failure' }).map((d) => [d.trigger, d.at])).toEqual([
      ['health_check db == false', new Date(t0 + 6 * minute).toISOString()],
      ['log corruption in app.log', new Date(t0 + minute).toISOString()],
      ['health_check db == false', new Date(t0).toISOString()],
    ]);
  });

  it('uses a 5 minute cooldown by default', () => {
    const g = gate();
    const s = scenario();
    startedAt(g, s, firing(0));
    expect(g.decide(s, firing(4.9)).decision).toBe('suppressed');
    expect(g.decide(s, firing(5)).decision).toBe('start');
  });

  it('a start that did not happen starts no cooldown: the next detection tries again', () => {
    const g = gate();
    const s = scenario();
    expect(g.decide(s, firing(0)).decision).toBe('start');
    expect(g.decide(s, firing(0.5)).decision).toBe('start');
  });

  it('only records detections of a scenario that is not automatic', () => {
    const g = gate();
    const s = scenario({ automatic: false });
    expect(g.decide(s, firing(0)).decision).toBe('record-only');
    expect(g.decide(s, firing(1)).decision).toBe('record-only');
    expect(catalog.detections.list()).toHaveLength(2);
  });

  it('suppresses while an execution of the scenario is active', () => {
    active.add('db-failure');
    expect(gate().decide(scenario(), firing(0))).toMatchObject({ decision: 'suppressed', reason: 'active' });
    active.clear();
    expect(gate().decide(scenario(), firing(1)).decision).toBe('start');
  });

  it('attaches the execution a detection started, and a new gate honours its cooldown', () => {
    const decision = gate().decide(scenario(), firing(0));
    const executionId = catalog.drExecutions.create({ scenarioId: 'db-failure', triggeredBy: 'detector', plan: {}, steps: [] });
    gate().started(decision.detectionId, executionId, 'db-failure', new Date(t0));
    expect(catalog.detections.list({ since: new Date(t0) })[0]).toMatchObject({ id: decision.detectionId, executionId });
    catalog.drExecutions.finish(executionId, 'succeeded');

    const afterRestart = gate();
    expect(afterRestart.decide(scenario(), firing(2))).toMatchObject({ decision: 'suppressed', reason: 'cooldown' });
    expect(afterRestart.decide(scenario(), firing(7)).decision).toBe('start');
    expect(catalog.detections.list({ scenarioId: 'db-failure', since: new Date(t0 + minute) })).toHaveLength(2);
    expect(catalog.detections.list({ scenarioId: 'other' })).toEqual([]);
  });
});
