import type { BackupEvent } from './backup-run.js';

/** Below this, a rate says more about start-up (opening the repository, the first files) than about the run. */
const ETA_MIN_WINDOW_MS = 3_000;
/** Beyond this an ETA is noise (a stalled read, an estimate that missed), not a forecast. */
const ETA_MAX_MS = 7 * 24 * 3_600_000;

export interface EtaBasis {
  /** What the run will have processed at the end; undefined when it cannot be known (a stream, a FIFO). */
  totalBytes: number | undefined;
  doneBytes: number;
  /** How long `doneBytes` took: the window the rate is measured over. */
  elapsedMs: number;
}

/**
 * The time left when it can honestly be forecast, else undefined: an ETA that cannot be
 * known is not given rather than given wrong. Done bytes past the estimated total mean
 * the estimate was off, so there is nothing left to forecast from.
 */
export function remainingMs({ totalBytes, doneBytes, elapsedMs }: EtaBasis): number | undefined {
  if (totalBytes === undefined || !(totalBytes > 0) || !(doneBytes > 0) || doneBytes >= totalBytes) return undefined;
  if (!(elapsedMs >= ETA_MIN_WINDOW_MS)) return undefined;
  const left = ((totalBytes - doneBytes) / doneBytes) * elapsedMs;
  if (!Number.isFinite(left) || left <= 0 || left > ETA_MAX_MS) return undefined;
  return left;
}

/**
 * Adds rate, total and ETA to progress events, measured here in the service so that the
 * CLI, the server and an embedding application show the same numbers. Per source: a run
 * backs up its sources one after another, and one source's total or start says nothing
 * about the next (a stream source after a files source has no total). A restore is
 * measured from the meter's creation. `clock` is injected for tests.
 */
export function withRates(onEvent: (e: BackupEvent) => void, clock: () => number = Date.now): (e: BackupEvent) => void {
  const created = clock();
  const estimates = new Map<string, number>();
  const started = new Map<string, number>();
  return (e) => {
    const now = clock();
    if (e.type === 'start' && !started.has(e.source)) started.set(e.source, now);
    // Every destination group walks the same tree for its estimate: the latest replaces, never adds.
    if (e.type === 'estimate') estimates.set(e.source, e.bytes);
    // Set on the event itself: a restore emits one per write, and a copy of each held
    // 7 MiB more at its peak (young objects the collector had not reached yet).
    if (e.type === 'progress') {
      const elapsedMs = now - (started.get(e.source) ?? created);
      const totalBytes = estimates.get(e.source);
      const eta = remainingMs({ totalBytes, doneBytes: e.bytes, elapsedMs });
      e.elapsedMs = elapsedMs;
      e.bytesPerSecond = elapsedMs > 0 ? (e.bytesRead / elapsedMs) * 1000 : 0;
      if (totalBytes !== undefined) e.totalBytes = totalBytes;
      if (eta !== undefined) e.etaMs = eta;
    } else if (e.type === 'restore-progress') {
      const elapsedMs = now - created;
      const eta = remainingMs({ totalBytes: e.totalBytes, doneBytes: e.bytes, elapsedMs });
      e.elapsedMs = elapsedMs;
      e.bytesPerSecond = elapsedMs > 0 ? (e.bytes / elapsedMs) * 1000 : 0;
      if (eta !== undefined) e.etaMs = eta;
    }
    onEvent(e);
  };
}
