import type { BackupEvent } from '../backup/backup-manager.js';
import type { CliContext } from './context.js';
import { formatBytes, formatDuration } from './format.js';

export interface ProgressReporter {
  onEvent(e: BackupEvent): void;
  stop(): void;
}

const PLAIN_INTERVAL_MS = 5_000;

/**
 * Renders backup/restore events on stderr: an ora spinner on a terminal, a plain
 * line every few seconds otherwise (cron logs), NDJSON with --json.
 */
export async function createProgressReporter(ctx: CliContext): Promise<ProgressReporter> {
  const { json, quiet } = ctx.options;
  // Rates, totals and ETAs come measured from the service: the same numbers the server and an embedding application show.
  const eta = (etaMs: number | undefined) => (etaMs === undefined ? '' : `, ETA ${formatDuration(etaMs)}`);
  let line = '';
  const describe = (e: BackupEvent): string | undefined => {
    if (e.type === 'progress') {
      const total = e.totalBytes !== undefined && e.totalBytes > 0 ? ` of ${formatBytes(e.totalBytes)}` : '';
      return `${e.source} → ${e.destination}: ${e.files} files, ${formatBytes(e.bytes)}${total}, read ${formatBytes(e.bytesRead)} at ${formatBytes(e.bytesPerSecond ?? 0)}/s${eta(e.etaMs)}`;
    }
    if (e.type === 'restore-progress') {
      return `restoring: ${formatBytes(e.bytes)} of ${formatBytes(e.totalBytes)} at ${formatBytes(e.bytesPerSecond ?? 0)}/s${eta(e.etaMs)}`;
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
