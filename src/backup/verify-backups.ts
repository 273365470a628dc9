import { UsageError } from '../core/errors.js';
import { type DestinationFailure, eachDestination } from '../runtime/destination-fan-out.js';
import { withRun } from '../runtime/run-recorder.js';
import type { BackupContext } from './backup-context.js';
import { type DestinationVerifyResult, type TestRestoreResult, type VerifyOptions, verifyRepository } from './verify-run.js';

export interface VerifyResult {
  runId: string;
  status: 'clean' | 'damaged' | 'partial' | 'failed';
  destinations: DestinationVerifyResult[];
  failures: DestinationFailure[];
}

export interface DisasterRecoveryTestResult {
  test: string;
  passed: boolean;
  reason?: string;
  verifyRunId: string;
  restores: (TestRestoreResult & { destination: string })[];
}

/**
 * `backup verify`: checks every destination's repository (structure; with
 * `readDataPercent`, the data of that share of packs; with `testRestore`, a scratch
 * restore). `status` is 'damaged' when anything is wrong; the result is kept in the
 * catalog as the run's summary, as evidence.
 */
export async function verifyBackups(ctx: BackupContext, opts: VerifyOptions & { destinations?: string[] | undefined } = {}): Promise<VerifyResult> {
  const destinations = await ctx.destinations(opts.destinations);
  const session = ctx.session();
  return withRun(ctx.runStores, {
    start: { kind: 'verify', destinations: destinations.map((d) => d.name) },
    cleanup: () => session.close(),
    work: async (run) => {
      const { results, failures, passedOver } = await eachDestination(
        destinations,
        async (destination) => {
          const repo = await session.open(destination, { lock: { mode: 'shared', operation: 'verify' }, tolerateDamagedIndex: true });
          if (!repo) return undefined;
          const checked = await verifyRepository(repo, destination.name, ctx.catalog, opts);
          const r = checked.report;
          run.log(checked.damaged ? 'error' : 'info', `${destination.name}: ${checked.damaged ? 'DAMAGED' : 'clean'}; ${r.snapshots} backups, ${r.packs.read}/${r.packs.indexed} packs read`, {
            problems: r.problems.map((p) => p.message),
          });
          return checked;
        },
        {
          after: (destination) => session.release(destination),
          // A backup id that is on another destination is not a failure of this one.
          passOver: (err) => opts.backupId !== undefined && err instanceof UsageError && /no backup/.test(err.message),
          onFailure: (f) => run.log('error', `${f.destination}: ${f.error}`),
        },
      );
      if (results.length === 0 && failures.length === 0) {
        const lastError = passedOver.at(-1);
        throw lastError instanceof UsageError
          ? lastError
          : new UsageError(opts.backupId ? `no backup ${opts.backupId} on ${destinations.map((d) => d.name).join(', ')}` : 'no destination holds a repository yet');
      }
      const damaged = results.some((d) => d.damaged);
      const status: VerifyResult['status'] = damaged ? 'damaged' : failures.length > 0 ? (results.length > 0 ? 'partial' : 'failed') : 'clean';
      return { runId: run.id, status, destinations: results, failures };
    },
    outcome: (result) => ({
      status: result.status === 'clean' ? 'succeeded' : result.status === 'partial' ? 'partial' : 'failed',
      ...(result.status !== 'clean' ? { error: result.status === 'damaged' ? 'damage found' : result.failures.map((f) => `${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: {
        status: result.status,
        backupId: opts.backupId,
        readDataPercent: opts.readDataPercent,
        testRestore: opts.testRestore ?? false,
        destinations: result.destinations,
        failures: result.failures,
      },
      audit: { action: 'backup.verify', target: destinations.map((d) => d.name).join(','), payload: { runId: result.runId, status: result.status } },
    }),
  });
}

/**
 * The backup side of a DR test. 'backup-integrity-test': verify every destination with
 * a sample of the data read and a test restore of the newest backup of each source;
 * passed means nothing is damaged. The verify run is kept in the catalog; the audit
 * trail records the test and its measured restore times.
 */
export async function testDisasterRecovery(
  ctx: BackupContext,
  test: string,
  opts: { readDataPercent?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<DisasterRecoveryTestResult> {
  if (test !== 'backup-integrity-test') throw new UsageError(`unknown backup DR test '${test}' (available: backup-integrity-test)`);
  const verify = await verifyBackups(ctx, { readDataPercent: opts.readDataPercent ?? 10, testRestore: true, signal: opts.signal });
  const restores = verify.destinations.flatMap((d) => d.testRestores.map((t) => ({ destination: d.destination, ...t })));
  const passed = verify.status === 'clean' && restores.length > 0;
  const result: DisasterRecoveryTestResult = {
    test,
    passed,
    verifyRunId: verify.runId,
    restores,
    ...(passed ? {} : { reason: verify.status !== 'clean' ? `verify: ${verify.status}` : 'no backup to restore' }),
  };
  ctx.catalog.audit.append({
    action: 'dr.test',
    target: test,
    payload: { passed, verifyRunId: verify.runId, restoreMs: restores.map((r) => ({ destination: r.destination, source: r.source, ms: r.durationMs })) },
  });
  return result;
}
