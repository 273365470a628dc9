import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { type CheckReport, checkRepository, takeInventory } from '../repo/check.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import { restoreTree } from './restorer.js';

export interface VerifyOptions {
  /** Only this backup (id or prefix); else every backup in the repository. */
  backupId?: string | undefined;
  /** Percent of the packs to read whole (100: all); undefined: structure only. */
  readDataPercent?: number | undefined;
  /** Restore into a scratch directory and compare with the backup's own records. */
  testRestore?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface TestRestoreResult {
  snapshot: string;
  source: string;
  files: number;
  bytes: number;
  /** How long the restore took: a measured recovery time for this backup. */
  durationMs: number;
  mismatches: string[];
  error?: string;
}

export interface DestinationVerifyResult {
  destination: string;
  damaged: boolean;
  report: CheckReport;
  /** Read-data coverage after this run: packs checked at least once, out of all indexed packs. */
  coverage?: { checked: number; total: number };
  testRestores: TestRestoreResult[];
}

/**
 * One repository's verify: the structure check, a read of the chosen packs (the ones
 * checked longest ago first, so repeated sampled runs cover everything; coverage is
 * kept in the catalog), and test restores of the newest backup of each source (or of
 * the one backup asked for).
 */
export async function verifyRepository(repo: Repository, destination: string, catalog: Catalog, opts: VerifyOptions): Promise<DestinationVerifyResult> {
  const all = await repo.listSnapshots();
  const snapshots = opts.backupId ? [await repo.loadSnapshot(opts.backupId)] : all;
  const inventory = await takeInventory(repo);
  const readPacks = opts.readDataPercent !== undefined ? choosePacks([...inventory.stored.keys()], catalog.packChecks.lastChecked(repo.id), opts.readDataPercent) : undefined;
  const report = await checkRepository(repo, snapshots, { inventory, readPacks, signal: opts.signal });
  const result: DestinationVerifyResult = { destination, damaged: report.problems.length > 0, report, testRestores: [] };
  if (readPacks) {
    catalog.packChecks.record(repo.id, report.packsRead);
    const checked = catalog.packChecks.lastChecked(repo.id);
    const indexed = new Set(inventory.indexFiles.flatMap((f) => f.packs.map((p) => p.id)));
    result.coverage = { checked: [...indexed].filter((id) => checked.has(id)).length, total: indexed.size };
  }
  if (opts.testRestore) {
    for (const snapshot of newestPerSource(snapshots)) {
      const restored = await testRestore(repo, snapshot, opts.signal);
      result.testRestores.push(restored);
      if (restored.error || restored.mismatches.length > 0) result.damaged = true;
    }
  }
  return result;
}

function choosePacks(packs: string[], last: Map<string, string>, percent: number): Set<string> {
  // Never-checked packs first, then the longest ago; a random order among equals spreads the reads.
  const shuffled = packs.map((id) => ({ id, key: last.get(id) ?? '', tie: Math.random() })).sort((a, b) => a.key.localeCompare(b.key) || a.tie - b.tie);
  const count = percent >= 100 ? packs.length : Math.ceil((packs.length * percent) / 100);
  return new Set(shuffled.slice(0, count).map((p) => p.id));
}

function newestPerSource(snapshots: readonly Snapshot[]): Snapshot[] {
  const newest = new Map<string, Snapshot>();
  for (const s of snapshots) if (!newest.has(s.source) || newest.get(s.source)!.time < s.time) newest.set(s.source, s);
  return [...newest.values()];
}

/** Restores into a scratch directory with every file re-hashed, then removes it. */
export async function testRestore(repo: Repository, snapshot: Snapshot, signal: AbortSignal | undefined): Promise<TestRestoreResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'bkdr-test-restore-'));
  const started = Date.now();
  try {
    const restored = await restoreTree({ repo, backupId: snapshot.id, tree: snapshot.tree, target: join(scratch, 'target'), verify: true, signal });
    return { snapshot: snapshot.id, source: snapshot.source, files: restored.files, bytes: restored.bytes, durationMs: Date.now() - started, mismatches: restored.verified?.mismatches ?? [] };
  } catch (err) {
    return { snapshot: snapshot.id, source: snapshot.source, files: 0, bytes: 0, durationMs: Date.now() - started, mismatches: [], error: (err as Error).message };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
