import { resolve } from 'node:path';
import { OperationError, UsageError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { ChangeWatcher } from '../scheduling/change-watcher.js';
import { type BackupContext, selectSources } from './backup-context.js';
import type { BackupRunResult } from './backup-run.js';

export type WatchRunEvent =
  | { type: 'watching'; source: string; paths: string[]; rpoMs: number }
  | { type: 'change'; source: string; path: string }
  | { type: 'backup'; source: string; status: BackupRunResult['status']; snapshotIds: string[]; changes: number; oldestChangeAgeMs?: number; failures: string[] }
  | { type: 'failed'; source: string; error: string };

/**
 * `backup watch`: the continuous strategy. Takes a backup of each source now, then one
 * whenever its files change, so that no change is older than the RPO when its backup
 * lands. Runs until `signal` aborts; a backup in flight then finishes. `backUpSource`
 * is the service's own backup run, recorded as `continuous`.
 */
export async function watchSources(
  ctx: BackupContext,
  backUpSource: (source: string) => Promise<BackupRunResult>,
  sources: string | string[],
  opts: { rpoMs?: number | undefined; debounceMs?: number | undefined; signal: AbortSignal },
  onEvent: (e: WatchRunEvent) => void = () => undefined,
): Promise<{ backups: number }> {
  const names = selectSources(ctx.config, sources);
  const watched = names.map((source) => {
    const cfg = ctx.config.sources?.[source];
    if (cfg?.type !== 'files') throw new UsageError(`source ${source}: only files sources can be watched (it is ${cfg?.type})`);
    const rpo = opts.rpoMs ?? parseDuration(cfg.rpo ?? ctx.config.rpo ?? '5m', `sources.${source}.rpo`);
    return { source, cfg, rpoMs: rpo };
  });
  // bkdr's own writes must not count as changes: local repositories and the catalog may sit inside a source.
  const own = ctx.ownFiles();
  const ownFiles = [...own.paths];
  let backups = 0;
  // Backups of different sources take turns: a watch keeps one backup's reads and memory at a time.
  let turn: Promise<unknown> = Promise.resolve();
  const backUp = (source: string, changes?: { count: number; oldest: Date }) => {
    const next = turn.then(async () => {
      const result = await backUpSource(source);
      backups += result.backups.length > 0 ? 1 : 0;
      const landed = new Date();
      onEvent({
        type: 'backup',
        source,
        status: result.status,
        snapshotIds: result.backups.map((b) => b.snapshotId),
        changes: changes?.count ?? 0,
        ...(changes ? { oldestChangeAgeMs: landed.getTime() - changes.oldest.getTime() } : {}),
        failures: result.failures.map((f) => `${f.destination}: ${f.error}`),
      });
      if (result.status === 'failed') throw new OperationError(result.failures.map((f) => `${f.destination}: ${f.error}`).join('; '));
    });
    turn = next.catch(() => undefined);
    return next;
  };
  for (const w of watched) await backUp(w.source).catch((err: unknown) => onEvent({ type: 'failed', source: w.source, error: (err as Error).message }));
  await Promise.all(
    watched.map((w) =>
      new ChangeWatcher({
        paths: w.cfg.paths.map((p) => resolve(ctx.configDir, p)),
        exclude: w.cfg.exclude ?? [],
        ignore: ownFiles,
        own,
        rpoMs: w.rpoMs,
        debounceMs: opts.debounceMs,
        snapshot: (changes) => backUp(w.source, changes),
        onEvent: (e) => {
          if (e.type === 'ready') onEvent({ type: 'watching', source: w.source, paths: e.paths, rpoMs: w.rpoMs });
          else if (e.type === 'change') onEvent({ type: 'change', source: w.source, path: e.path });
          else onEvent({ type: 'failed', source: w.source, error: e.error });
        },
      }).run(opts.signal),
    ),
  );
  await turn;
  return { backups };
}
