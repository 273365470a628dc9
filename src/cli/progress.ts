import type { BackupEvent } from '../backup/backup-manager.js';
import type { CliContext } from './context.js';
import { formatBytes, formatDuration } from './format.js';

export interface ProgressReporter {
  onEvent(e: BackupEvent): void;
  stop(): void;
}

const PLAIN_INTERVAL_MS = 5_000;

/** Below this, a rate says more about start-up (opening the repository, the first files) than about the run. */
export const ETA_MIN_WINDOW_MS = 3_000;
/** Beyond this an ETA is noise (a stalled read, an estimate that missed), not a forecast. */
export const ETA_MAX_MS = 7 * 24 * 3_600_000;

export interface EtaBasis {
  /** What the run will have processed at the end; undefined when it cannot be known (a stream, a FIFO). */
  totalBytes: number | undefined;
  doneBytes: number;
  /** How long `doneBytes` took: the window the rate is measured over. */
  elapsedMs: number;
}

/**
 * `ETA 3m10s` when the remaining time can honestly be forecast, else undefined: an ETA
 * that cannot be known is not shown rather than shown wrong. Done bytes past the
 * estimated total mean the estimate was off, so there is nothing left to forecast from.
 */
export function formatEta({ totalBytes, doneBytes, elapsedMs }: EtaBasis): string | undefined {
  if (totalBytes === undefined || !(totalBytes > 0) || !(doneBytes > 0) || doneBytes >= totalBytes) return undefined;
  if (!(elapsedMs >= ETA_MIN_WINDOW_MS)) return undefined;
  const remainingMs = ((totalBytes - doneBytes) / doneBytes) * elapsedMs;
  if (!Number.isFinite(remainingMs) || remainingMs <= 0 || remainingMs > ETA_MAX_MS) return undefined;
  return `ETA ${formatDuration(remainingMs)}`;
}

/**
 * Renders backup/restore events on stderr: an ora spinner on a terminal, a plain
 * line every few seconds otherwise (cron logs), NDJSON with --json.
 */
export async function createProgressReporter(ctx: CliContext): Promise<ProgressReporter> {
  const { json, quiet } = ctx.options;
  const started = Date.now();
  // Per source: a run backs up its sources one after another, and one source's total or
  // start says nothing about the next (a stream source after a files source has no total).
  const estimates = new Map<string, number>();
  const sourceStarted = new Map<string, number>();
  let line = '';
  const noteEvent = (e: BackupEvent): void => {
    // Every destination group walks the same tree for its estimate: the latest replaces, never adds.
    if (e.type === 'estimate') estimates.set(e.source, e.bytes);
    else if (e.type === 'start') sourceStarted.set(e.source, Date.now());
  };
  const describe = (e: BackupEvent): string | undefined => {
    if (e.type === 'progress') {
      const elapsedMs = Date.now() - (sourceStarted.get(e.source) ?? started);
      const rate = elapsedMs > 0 ? (e.bytesRead / elapsedMs) * 1000 : 0;
      const totalBytes = estimates.get(e.source);
      const eta = formatEta({ totalBytes, doneBytes: e.bytes, elapsedMs });
      const total = totalBytes !== undefined && totalBytes > 0 ? ` of ${formatBytes(totalBytes)}` : '';
      return `${e.source} → ${e.destination}: ${e.files} files, ${formatBytes(e.bytes)}${total}, read ${formatBytes(e.bytesRead)} at ${formatBytes(rate)}/s${eta ? `, ${eta}` : ''}`;
    }
    if (e.type === 'restore-progress') {
      const elapsedMs = Date.now() - started;
      const rate = elapsedMs > 0 ? (e.bytes / elapsedMs) * 1000 : 0;
      const eta = formatEta({ totalBytes: e.totalBytes, doneBytes: e.bytes, elapsedMs });
      return `restoring: ${formatBytes(e.bytes)} of ${formatBytes(e.totalBytes)} at ${formatBytes(rate)}/s${eta ? `, ${eta}` : ''}`;
    }
    if (e.type === 'start') return `${e.source} → ${e.destination}: ${e.strategy}${e.parent ? ` (parent ${e.parent.slice(0, 8)})` : ''}`;
    return undefined;
  };

  if (json) {
    return {
      onEvent: (e) => {
        if (!quiet) process.stderr.write(`${JSON.stringify(e)}\n`);
      },
      stop: () => undefined,
    };
  }
  if (ctx.fancy && !quiet) {
    const { default: ora } = await import('ora');
    const spinner = ora({ stream: process.stderr, text: 'starting' }).start();
    return {
      onEvent: (e) => {
        noteEvent(e);
        if (e.type === 'warning') spinner.warn(`${e.path}: ${e.message}`).start();
        else if (e.type === 'done') spinner.succeed(`${e.source} → ${e.destination}: snapshot ${e.snapshotId.slice(0, 8)}`).start();
        const text = describe(e);
        if (text) spinner.text = text;
      },
      stop: () => spinner.stop(),
    };
  }
  let lastPrinted = Date.now();
  return {
    onEvent: (e) => {
      noteEvent(e);
      if (quiet) return;
      if (e.type === 'warning') process.stderr.write(`warning: ${e.path}: ${e.message}\n`);
      const text = describe(e);
      if (!text) return;
      line = text;
      const now = Date.now();
      if (e.type === 'start' || now - lastPrinted >= PLAIN_INTERVAL_MS) {
        lastPrinted = now;
        process.stderr.write(`${line}\n`);
      }
    },
    stop: () => undefined,
  };
}
