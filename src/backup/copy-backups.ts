import { UsageError } from '../core/errors.js';
import type { Snapshot } from '../repo/snapshot.js';
import { withRun } from '../runtime/run-recorder.js';
import type { BackupContext } from './backup-context.js';
import { cacheBackup } from './catalog-sync.js';
import { copySnapshot } from './snapshot-copy.js';

export interface CopyResult {
  runId: string;
  copied: { from: string; to: string; source: string; time: string; blobs: number; bytes: number }[];
  skipped: { from: string; to: string }[];
}

/**
 * `backup copy`: copies backups (the given ids, else all) from one destination to
 * another, skipping those the target already holds (same source, time and tree).
 */
export async function copyBackups(ctx: BackupContext, req: { from: string; to: string; backupIds?: string[] | undefined; signal?: AbortSignal | undefined }): Promise<CopyResult> {
  if (req.from === req.to) throw new UsageError(`a copy needs two different destinations; both are ${req.from}`);
  const [from, to] = (await ctx.destinations([req.from, req.to])).sort((a, b) => (a.name === req.from ? -1 : b.name === req.from ? 1 : 0));
  const session = ctx.session();
  const lock = { mode: 'shared', operation: 'copy' } as const;
  return withRun(ctx.runStores, {
    start: { kind: 'copy', destinations: [from!.name, to!.name] },
    cleanup: () => session.close(),
    work: async (run) => {
      const result: CopyResult = { runId: run.id, copied: [], skipped: [] };
      const source = await session.open(from!, { lock });
      if (!source) throw new UsageError(`destination ${from!.name} holds no repository`);
      const target = (await session.open(to!, { create: true, chunker: source.config.chunker, lock }))!;
      const wanted = req.backupIds && req.backupIds.length > 0 ? await Promise.all(req.backupIds.map((id) => source.loadSnapshot(id))) : await source.listSnapshots();
      const present = await target.listSnapshots();
      const key = (s: Snapshot) => `${s.source}\u0000${s.time}\u0000${s.tree}`;
      const idInTarget = new Map(present.map((s) => [key(s), s.id]));
      const byId = new Map((await source.listSnapshots()).map((s) => [s.id, s]));
      for (const snapshot of wanted.sort((a, b) => a.time.localeCompare(b.time))) {
        const existing = idInTarget.get(key(snapshot));
        if (existing) {
          result.skipped.push({ from: snapshot.id, to: existing });
          continue;
        }
        const parentSnapshot = snapshot.parent ? byId.get(snapshot.parent) : undefined;
        const parent = parentSnapshot ? idInTarget.get(key(parentSnapshot)) : undefined;
        // On failure the blobs already uploaded are indexed, so a second copy resumes instead of re-sending them.
        const copied = await copySnapshot(source, target, snapshot, { parent, signal: req.signal }).catch(async (err: unknown) => {
          await target.flush().catch(() => undefined);
          throw err;
        });
        idInTarget.set(key(snapshot), copied.id);
        cacheBackup(ctx.catalog, to!, target, await target.loadSnapshot(copied.id), run.id);
        run.log('info', `copied ${snapshot.id.slice(0, 8)} → ${copied.id.slice(0, 8)} (${copied.blobs} blobs, ${copied.bytes} bytes)`);
        result.copied.push({ from: snapshot.id, to: copied.id, source: snapshot.source, time: snapshot.time, blobs: copied.blobs, bytes: copied.bytes });
      }
      return result;
    },
    outcome: (result) => ({
      status: 'succeeded',
      summary: { copied: result.copied.length, skipped: result.skipped.length },
      audit: { action: 'backup.copy', target: `${req.from}->${req.to}`, payload: { runId: result.runId, copied: result.copied.map((c) => c.to) } },
    }),
  });
}
