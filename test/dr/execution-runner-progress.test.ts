import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import type { DrStep } from '../../src/config/dr-schema.js';
import { executionProgress } from '../../src/dr/execution-progress.js';
import { runExecution, type StoredPlan } from '../../src/dr/execution-runner.js';
import type { StepExecutor } from '../../src/dr/step-executor.js';
import { makeTempDir } from '../helpers/cli.js';

/**
 * What the runner writes of a step's progress reports (execution-runner.ts,
 * reportProgress): a report behind where the one before had brought progress (the step
 * slowed down) carries that share, so `dr status` never shows progress going back.
 */
describe('the runner writes a running step’s reports so that progress never goes back', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('keeps the share the last report had reached when the next one is behind it', async () => {
    const tmp = await makeTempDir('bkdr-runner-progress-');
    const catalog: Catalog = openCatalog(join(tmp.path, 'catalog.db'));
    cleanups.push(async () => {
      catalog.close();
      await tmp.cleanup();
    });
    const plan: StoredPlan = { scenarioId: 'sc', planIds: ['p'], steps: [{ id: 'p/slows', planId: 'p', step: { id: 'slows', type: 'command', command: 'true' }, dependsOn: [], priority: 0 }] };
    const id = catalog.drExecutions.create({ scenarioId: 'sc', triggeredBy: 'test', plan, steps: [{ planId: 'p', stepId: 'slows', type: 'command', weight: 100 }] });
    const progressNow = () => executionProgress(catalog.drExecutions.get(id)!).progress;
    const seen: { before: number; after: number; shown: number | undefined } = { before: 0, after: 0, shown: undefined };
    // Half done in a second, then only 5 % more in the next: the second report is far behind the first's pace.
    const slows: StepExecutor<DrStep> = {
      async run(_step, ctx) {
        await sleep(1_100);
        ctx.reportProgress!(500, 1000);
        await sleep(1_100);
        seen.before = progressNow();
        ctx.reportProgress!(550, 1000);
        seen.after = progressNow();
        seen.shown = (catalog.drExecutions.get(id)!.steps[0]!.output as { progress: { shown?: number } }).progress.shown;
        return {};
      },
    };
    const end = await runExecution(id, {
      executions: catalog.drExecutions,
      audit: catalog.audit,
      executors: { command: slows },
      context: { dryRun: false },
      log: () => undefined,
      signal: new AbortController().signal,
    });
    expect(end.outcome).toBe('succeeded');
    expect(seen.before).toBeGreaterThan(55);
    expect(seen.after).toBeGreaterThanOrEqual(seen.before);
    expect(seen.shown).toBeGreaterThan(0.55);
  });
});
