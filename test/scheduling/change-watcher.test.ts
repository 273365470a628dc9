import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeWatcher } from '../../src/scheduling/change-watcher.js';
import { makeTempDir } from '../helpers/cli.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => {
  tmp = await makeTempDir('bkdr-watcher-');
  await mkdir(join(tmp.path, 'skip'));
});
afterEach(() => tmp.cleanup());

async function watching(opts: { rpoMs: number; debounceMs?: number; slowSnapshotMs?: number }, body: (snapshots: { count: number; waitedMs: number }[]) => Promise<void>) {
  const snapshots: { count: number; waitedMs: number }[] = [];
  let running = 0;
  let overlapped = false;
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const controller = new AbortController();
  const watcher = new ChangeWatcher({
    paths: [tmp.path],
    exclude: ['**/skip/**'],
    rpoMs: opts.rpoMs,
    debounceMs: opts.debounceMs,
    snapshot: async (changes) => {
      if (running++ > 0) overlapped = true;
      snapshots.push({ count: changes.count, waitedMs: Date.now() - changes.oldest.getTime() });
      await new Promise((r) => setTimeout(r, opts.slowSnapshotMs ?? 0));
      running--;
    },
    onEvent: (e) => e.type === 'ready' && ready(),
  });
  const done = watcher.run(controller.signal);
  await started;
  await body(snapshots);
  controller.abort();
  await done;
  expect(overlapped).toBe(false);
}

describe('ChangeWatcher', () => {
  it('turns a burst of writes into one snapshot', async () => {
    await watching({ rpoMs: 10_000, debounceMs: 300 }, async (snapshots) => {
      for (let i = 0; i < 20; i++) await writeFile(join(tmp.path, `f${i}`), 'x');
      await new Promise((r) => setTimeout(r, 1200));
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]!.count).toBeGreaterThanOrEqual(20);
    });
  });

  it('does not let steady writes postpone a snapshot past half the RPO, and never overlaps snapshots', async () => {
    await watching({ rpoMs: 1000, debounceMs: 400, slowSnapshotMs: 150 }, async (snapshots) => {
      // A write every 100 ms: the debounce alone would never fire.
      for (let i = 0; i < 25; i++) {
        await writeFile(join(tmp.path, 'busy'), String(i));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(snapshots.length).toBeGreaterThanOrEqual(3);
      // Waits are measured from the oldest unsaved change to the snapshot's start; a slow snapshot can delay the next.
      for (const s of snapshots) expect(s.waitedMs).toBeLessThan(1000);
    });
  });

  it('ignores excluded paths', async () => {
    await watching({ rpoMs: 10_000, debounceMs: 100 }, async (snapshots) => {
      await writeFile(join(tmp.path, 'skip', 'noise'), 'x');
      await new Promise((r) => setTimeout(r, 600));
      expect(snapshots).toHaveLength(0);
    });
  });
});
