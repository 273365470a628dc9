import { hostname, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { FAILED_RUN_STATUSES } from '../catalog/runs-table.js';
import type { BkdrConfig } from '../config/schema.js';
import { BkdrError, IntegrityError, InterruptedError, OperationError, UsageError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { parseDuration } from '../core/duration.js';
import { ExitCode } from '../core/exit-codes.js';
import { parseTimeExpression } from '../core/time-expression.js';
import { type ChunkerParams, type KeyInfo, Repository } from '../repo/repository.js';
import { describeLock, type LockInfo } from '../repo/repository-lock.js';
import { checkRepository, checkSnapshotStructure, type StructureCheckOptions, takeInventory } from '../repo/check.js';
import { type IndexRepair, rebuildIndex, repairSnapshots, type SnapshotRepair } from '../repo/repair.js';
import type { Snapshot } from '../repo/snapshot.js';
import type { TreeNode } from '../repo/tree-node.js';
import { type ArchiveExportResult, exportArchive } from './archive-export.js';
import { type Destination, openDestinations } from './destinations.js';
import { type FanOutMember, FanOutRepository } from './fan-out-repository.js';
import { type ArchiveProgress, type ArchiveResult, archiveFiles } from './files-archiver.js';
import { archiveStream } from './stream-archiver.js';
import { streamBackupFile } from './snapshot-stream.js';
import { recoverableWindow, restorePointInTime } from './postgres-pitr.js';
import { createStreamSource } from '../sources/create-stream-source.js';
import type { StreamSource } from '../sources/stream-source.js';
import { type RestoreResult, restoreTree, UnsafeBackupError } from './restorer.js';
import { type DestinationPruneResult, type PruneSafety, pruneRepository, RetentionRefusedError } from './retention-prune.js';
import { copySnapshot } from './snapshot-copy.js';
import { ChangeWatcher } from './change-watcher.js';
import { type DestinationVerifyResult, testRestore, type TestRestoreResult, type VerifyOptions, verifyRepository } from './verify-run.js';
import { findNode, walkSnapshotTree } from './snapshot-walk.js';
import { estimateFilesSource, estimateFilesSourceLater } from './source-estimate.js';
import { type OwnFiles, ownFilesOf } from './own-files.js';
import { checkSourcePaths } from './source-paths.js';

export const PROGRAM_VERSION = '0.1.0';

export type BackupType = 'full' | 'incremental' | 'differential';

export type BackupEvent =
  | { type: 'start'; source: string; destination: string; strategy: BackupType; parent?: string | undefined }
  | { type: 'estimate'; source: string; files: number; bytes: number }
  | { type: 'progress'; source: string; destination: string; files: number; bytes: number; bytesRead: number }
  | { type: 'warning'; source: string; path: string; message: string }
  | { type: 'done'; source: string; destination: string; snapshotId: string }
  | { type: 'restore-progress'; files: number; totalFiles: number; bytes: number; totalBytes: number };

export interface CreateBackupOptions {
  type?: BackupType | undefined;
  priority?: 'low' | 'normal' | 'high' | undefined;
  tags?: string[] | undefined;
  destinations?: string[] | undefined;
  dryRun?: boolean | undefined;
  /** Taken by `backup watch`: compared with the newest backup like an incremental, recorded as `continuous`. */
  continuous?: boolean | undefined;
  /** Walk the sources once more to total them, for an ETA (costs a stat per file). */
  estimate?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface BackupOutcome {
  source: string;
  destination: string;
  snapshotId: string;
  strategy: Snapshot['strategy'];
  parent?: string | undefined;
  durationMs: number;
  summary: Snapshot['summary'];
  warnings: number;
}

export interface BackupFailure {
  source: string;
  destination: string;
  error: string;
  /** The error's exit code (CLI.md): 4 locked, 2 usage or configuration, 1 otherwise. */
  exitCode: number;
}

/** What a --dry-run would back up. */
export interface PlannedBackup {
  source: string;
  destination: string;
  strategy: BackupType;
  parent?: string | undefined;
  files: number;
  bytes: number;
}

export interface BackupRunResult {
  runId: string;
  status: 'succeeded' | 'partial' | 'failed';
  dryRun: boolean;
  /** Dry runs only: what each source and destination would get. */
  planned: PlannedBackup[];
  backups: BackupOutcome[];
  failures: BackupFailure[];
  durationMs: number;
}

export interface RestoreRequest {
  backupId?: string | undefined;
  at?: string | Date | undefined;
  source?: string | undefined;
  destination?: string | undefined;
  targetLocation?: string | undefined;
  include?: string[] | undefined;
  verification?: boolean | undefined;
  force?: boolean | undefined;
  archive?: string | undefined;
  /** Database and command sources: restore into this database (created when missing). */
  targetDatabase?: string | undefined;
  /** Command sources: pipe the backup into the configured restoreCommand. */
  pipe?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface RestoreOutcome {
  runId: string;
  backup: BackupSummary;
  /** Why this backup was picked (for --at). */
  picked?: string;
  restore?: RestoreResult;
  archive?: ArchiveExportResult;
  /** Restores into a database or command: what was done. */
  into?: string;
}

export interface BackupSummary {
  id: string;
  destination: string;
  source: string;
  strategy: string;
  parent?: string | undefined;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  summary: Snapshot['summary'];
}

export interface BackupManagerOptions {
  config: BkdrConfig;
  /** Relative paths in the config (local destinations) resolve against this directory. */
  configPath: string;
  catalog: Catalog;
  /** Called once, only when an encrypted destination is opened. */
  password: () => Promise<string>;
  /** Debug logging of destination calls (the CLI's -v). */
  logger?: Logger;
  /** How long a run waits for another run's conflicting repository lock before exit 4 (CLI --lock-wait). */
  lockWaitMs?: number;
}

type LockMode = 'shared' | 'exclusive' | 'none';

/** What a backup run holds on its repositories: none for a dry run, which writes nothing. */
function backupLock(opts: CreateBackupOptions): { mode: LockMode; operation: string } {
  return { mode: opts.dryRun ? 'none' : 'shared', operation: 'backup' };
}

/**
 * The backup service (DESIGN.md src/backup): what the CLI, the GraphQL API and an
 * embedding application call. It never prints; progress arrives as events.
 */
export class BackupManager {
  readonly #config: BkdrConfig;
  readonly #configDir: string;
  readonly #configPath: string;
  readonly #catalog: Catalog;
  readonly #passwordSource: () => Promise<string>;
  readonly #logger: Logger;
  readonly #lockWaitMs: number;
  #password: Promise<string> | undefined;
  readonly #repos = new Map<string, Promise<Repository | undefined>>();

  constructor(opts: BackupManagerOptions) {
    this.#config = opts.config;
    this.#configDir = dirname(resolve(opts.configPath));
    this.#configPath = resolve(opts.configPath);
    this.#catalog = opts.catalog;
    this.#passwordSource = opts.password;
    this.#logger = opts.logger ?? silentLogger;
    this.#lockWaitMs = opts.lockWaitMs ?? 0;
  }

  get catalog(): Catalog {
    return this.#catalog;
  }

  sourceNames(): string[] {
    return Object.keys(this.#config.sources ?? {});
  }

  async createBackup(sources: string | string[] = 'all', opts: CreateBackupOptions = {}, onEvent: (e: BackupEvent) => void = () => undefined): Promise<BackupRunResult> {
    const names = this.#selectSources(sources);
    const destinations = await openDestinations(this.#config, this.#configDir, opts.destinations, this.#logger);
    const started = Date.now();
    let runId: string;
    try {
      runId = await this.#besideKeyDerivation(destinations, backupLock(opts), () =>
        this.#catalog.runs.start({
          kind: 'backup',
          source: names.join(','),
          destinations: destinations.map((d) => d.name),
          ...(opts.type ? { strategy: opts.type } : {}),
          // Written after a password prompt or a lock wait, perhaps: the run began before them.
          startedAt: new Date(started),
        }),
      );
    } catch (err) {
      await this.close();
      throw err;
    }
    const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => this.#catalog.runLogs.append(runId, level, message, fields);

    const backups: BackupOutcome[] = [];
    const planned: PlannedBackup[] = [];
    const failures: BackupFailure[] = [];
    try {
      // In here: the repositories are open already, and a failing catalog write must still close them.
      log('info', `backup of ${names.join(', ')} to ${destinations.map((d) => d.name).join(', ')}`, { priority: opts.priority ?? 'normal', dryRun: opts.dryRun ?? false });
      for (const source of names) {
        const outcome = await this.#backupSource(runId, source, destinations, opts, onEvent, log);
        backups.push(...outcome.backups);
        planned.push(...outcome.planned);
        failures.push(...outcome.failures);
      }
    } catch (err) {
      const interrupted = err instanceof InterruptedError;
      log(interrupted ? 'warn' : 'error', interrupted ? 'interrupted; no snapshot was written for the unfinished source' : (err as Error).message);
      this.#catalog.runs.finish(runId, { status: interrupted ? 'interrupted' : 'failed', error: interrupted ? 'interrupted' : (err as Error).message });
      throw err;
    } finally {
      await this.close();
    }

    const warned = backups.some((b) => b.warnings > 0);
    const status = failures.length === 0 && !warned ? 'succeeded' : backups.length + planned.length > 0 ? 'partial' : 'failed';
    const result: BackupRunResult = { runId, status, dryRun: opts.dryRun ?? false, planned, backups, failures, durationMs: Date.now() - started };
    this.#catalog.runs.finish(runId, {
      status,
      ...(failures.length > 0 ? { error: failures.map((f) => `${f.source}→${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: { backups: backups.map((b) => ({ source: b.source, destination: b.destination, snapshotId: b.snapshotId })), failures },
    });
    if (!opts.dryRun) this.#catalog.audit.append({ action: 'backup.run', target: names.join(','), payload: { runId, status, snapshots: backups.map((b) => b.snapshotId) } });
    return result;
  }

  /**
   * Backs one source up to every destination with one read/chunk/hash pass per group
   * of repositories that share chunker parameters (new repositories are created with
   * an existing sibling's, so normally there is one group).
   */
  async #backupSource(
    runId: string,
    source: string,
    destinations: Destination[],
    opts: CreateBackupOptions,
    onEvent: (e: BackupEvent) => void,
    log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void,
  ): Promise<{ backups: BackupOutcome[]; planned: PlannedBackup[]; failures: BackupFailure[] }> {
    const out: { backups: BackupOutcome[]; planned: PlannedBackup[]; failures: BackupFailure[] } = { backups: [], planned: [], failures: [] };
    const fail = (destination: Destination, err: unknown) => {
      if (err instanceof InterruptedError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      out.failures.push({ source, destination: destination.name, error: message, exitCode: err instanceof BkdrError ? err.exitCode : 1 });
      log('error', `${source} → ${destination.name}: ${message}`);
    };
    const sourceConfig = this.#config.sources?.[source];
    let streamSource: StreamSource | undefined;
    try {
      if (!sourceConfig) throw new UsageError(`unknown source '${source}'`);
      if (sourceConfig.type !== 'files') streamSource = createStreamSource(source, sourceConfig, this.#configDir);
    } catch (err) {
      for (const d of destinations) fail(d, err);
      return out;
    }
    // A dump or a base backup is whole every time; deduplication keeps what did not change.
    const requested = streamSource ? 'full' : resolveStrategy(opts.type, sourceConfig.strategy ?? this.#config.strategy);
    const own = this.#ownFiles();
    let paths: string[] = [];
    const unreachable: { path: string; problem: string }[] = [];
    if (sourceConfig.type === 'files') {
      // Before any repository is opened or created: a source with nothing to read writes nothing.
      const checked = await checkSourcePaths(
        sourceConfig.paths.map((p) => resolve(this.#configDir, p)),
        own,
      );
      paths = checked.present;
      unreachable.push(...checked.missing, ...checked.own.map((path) => ({ path, problem: "is bkdr's own repository or catalog" })));
      if (paths.length === 0) {
        const why = unreachable.map((u) => `${u.path} ${u.problem}`).join('; ');
        for (const d of destinations) fail(d, new OperationError(`source ${source}: nothing was written, none of its paths can be backed up: ${why}`));
        return out;
      }
    }

    // Existing repositories first: a new one takes their chunker parameters.
    const lock = backupLock(opts);
    const opened = new Map<Destination, Repository | undefined>();
    for (const d of destinations) {
      try {
        opened.set(d, await this.#openRepository(d, { lock }));
      } catch (err) {
        fail(d, err);
      }
    }
    let template = [...opened.values()].find((r) => r !== undefined)?.config.chunker;
    if (!opts.dryRun) {
      for (const [d, repo] of opened) {
        if (repo) continue;
        try {
          // A backup writes its snapshot, so the new repository's creation may finish while it chunks.
          const created = await this.#openRepository(d, { create: true, inBackground: true, chunker: template, lock });
          opened.set(d, created);
          template ??= created?.config.chunker;
        } catch (err) {
          opened.delete(d);
          fail(d, err);
        }
      }
    }

    if (opts.dryRun) {
      const estimate = sourceConfig.type === 'files' ? await estimateFilesSource(paths, sourceConfig.exclude ?? [], opts.signal, own.contains) : { files: 1, bytes: 0 };
      for (const [d, repo] of opened) {
        const parent = repo && requested !== 'full' ? await this.#findParent(repo, source, requested) : undefined;
        out.planned.push({ source, destination: d.name, strategy: parent ? requested : 'full', parent: parent?.id, ...estimate });
      }
      return out;
    }

    const groups = new Map<string, FanOutMember[]>();
    for (const [destination, repo] of opened) {
      if (!repo) continue;
      const c = repo.config.chunker;
      const key = `${c.minSize}/${c.avgSize}/${c.maxSize}/${c.seed}`;
      groups.set(key, [...(groups.get(key) ?? []), { destination, repo }]);
    }
    for (const members of groups.values()) {
      try {
        const fanOut = new FanOutRepository(members);
        const result = await this.#archiveToGroup(runId, source, requested, fanOut, opts, onEvent, log, async (onProgress) => {
          if (sourceConfig.type === 'files') {
            for (const u of unreachable) onProgress.warning(u.path, `${u.problem}; not in this backup`);
            const estimate = opts.estimate ? estimateFilesSourceLater(paths, sourceConfig.exclude ?? [], (e) => onEvent({ type: 'estimate', source, ...e }), opts.signal, undefined, own.contains) : undefined;
            try {
              const archived = await archiveFiles({
                repo: fanOut,
                paths,
                exclude: sourceConfig.exclude ?? [],
                isOwn: own.contains,
                oneFileSystem: sourceConfig.oneFileSystem ?? false,
                parentTree: onProgress.parentTree,
                signal: opts.signal,
                onProgress: onProgress.progress,
                onWarning: onProgress.warning,
              });
              // Every path went away between the check and the walk: still nothing to back up, and no snapshot.
              if (archived.files + archived.dirs === 0) throw new OperationError(`source ${source}: none of its paths could be read (${paths.join(', ')}); nothing was written`);
              return { paths, archived, ...(unreachable.length > 0 ? { missingPaths: unreachable.map((u) => u.path) } : {}) };
            } finally {
              estimate?.stop();
            }
          }
          const capture = await streamSource!.capture(opts.signal);
          const archived = await archiveStream({ repo: fanOut, capture, signal: opts.signal, onProgress: onProgress.progress });
          return { paths: [capture.describe], archived, meta: capture.meta?.() };
        });
        out.backups.push(...result.backups);
        for (const f of result.failed) fail(f.destination, f.error);
      } catch (err) {
        for (const m of members) fail(m.destination, err);
      }
    }
    return out;
  }

  async #archiveToGroup(
    runId: string,
    source: string,
    requested: BackupType,
    fanOut: FanOutRepository,
    opts: CreateBackupOptions,
    onEvent: (e: BackupEvent) => void,
    log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void,
    archive: (hooks: {
      parentTree: string | undefined;
      progress: (p: ArchiveProgress) => void;
      warning: (path: string, message: string) => void;
    }) => Promise<{ paths: string[]; archived: ArchiveResult; meta?: Record<string, unknown> | undefined; missingPaths?: string[] }>,
  ): Promise<{ backups: BackupOutcome[]; failed: FanOutMember[] }> {
    const started = new Date();
    const names = fanOut.members.map((m) => m.destination.name).join(', ');
    const parent = requested !== 'full' ? await this.#findParent(fanOut.primary, source, requested) : undefined;
    // With nothing to compare against, an incremental or differential run reads everything: it is a full backup.
    const strategy: BackupType = parent ? requested : 'full';
    for (const m of fanOut.members) onEvent({ type: 'start', source, destination: m.destination.name, strategy, parent: parent?.id });
    log('info', `${source} → ${names}: ${strategy}${parent ? ` against ${parent.id.slice(0, 8)}` : ''}`);

    // The repository the walk reads the parent's trees from (a member that fails mid-run hands that over).
    const walked = fanOut.primary;
    let warnings = 0;
    let archived: ArchiveResult;
    let paths: string[];
    let meta: Record<string, unknown> | undefined;
    let missingPaths: string[] | undefined;
    try {
      ({ archived, paths, meta, missingPaths } = await archive({
        parentTree: parent?.tree,
        progress: (p) => onEvent({ type: 'progress', source, destination: names, ...p }),
        warning: (path, message) => {
          warnings++;
          log('warn', `${path}: ${message}`);
          onEvent({ type: 'warning', source, path, message });
        },
      }));
    } catch (err) {
      // Index what was uploaded so the next run reuses it; no snapshot is written.
      await Promise.all(fanOut.alive.map((m) => m.repo.flush().catch(() => undefined)));
      await Promise.all(fanOut.members.filter((m) => m.error !== undefined).map((m) => settleFailedMember(m)));
      if (err instanceof InterruptedError) throw err;
      for (const m of fanOut.members) m.error ??= err;
      return { backups: [], failed: fanOut.members };
    }
    // Destinations that dropped out mid-run: what they had stored is indexed for the next run, or deleted.
    await Promise.all(fanOut.members.filter((m) => m.error !== undefined).map((m) => settleFailedMember(m)));

    const backups: BackupOutcome[] = [];
    const { tree, warnings: _warnings, reusedTrees, ...counts } = archived;
    for (const m of fanOut.members) {
      if (m.error !== undefined) continue;
      let saved = false;
      try {
        const flushed = await m.repo.flush();
        const ownParent = m.repo === fanOut.primary ? parent : requested !== 'full' ? await this.#findParent(m.repo, source, requested) : undefined;
        const ended = new Date();
        const summary: Snapshot['summary'] = { ...counts, storedBytes: flushed.storedBytes, ...(missingPaths ? { missingPaths } : {}) };
        const snapshotId = await m.repo.saveSnapshot({
          time: started.toISOString(),
          tree,
          paths,
          hostname: hostname(),
          username: userInfo().username,
          source,
          strategy: opts.continuous ? 'continuous' : strategy,
          ...(ownParent ? { parent: ownParent.id } : {}),
          tags: opts.tags ?? [],
          startTime: started.toISOString(),
          endTime: ended.toISOString(),
          summary,
          programVersion: PROGRAM_VERSION,
          ...(meta ? { meta } : {}),
        });
        saved = true;
        this.#cacheBackup(m.destination, m.repo, await m.repo.loadSnapshot(snapshotId), runId);
        log('info', `${source} → ${m.destination.name}: snapshot ${snapshotId.slice(0, 8)} (${summary.files} files, ${summary.addedBytes} bytes added)`);
        onEvent({ type: 'done', source, destination: m.destination.name, snapshotId });
        backups.push({ source, destination: m.destination.name, snapshotId, strategy: opts.continuous ? 'continuous' : strategy, parent: ownParent?.id, durationMs: ended.getTime() - started.getTime(), summary, warnings });
        // Only the repository the walk read the parent's trees from saw them decode.
        const verified = await this.#verifyNewBackup(m.repo, snapshotId, { signal: opts.signal, reusedTrees: m.repo === walked ? reusedTrees : undefined });
        if (verified?.damage) {
          log('error', `${source} → ${m.destination.name}: ${verified.damage}`);
          m.error = new IntegrityError(verified.damage);
        } else if (verified) log('info', `${source} → ${m.destination.name}: snapshot ${snapshotId.slice(0, 8)} verified (${verified.checked})`);
      } catch (err) {
        m.error = err;
        if (!saved) await settleFailedMember(m);
      }
    }
    return { backups, failed: fanOut.members.filter((m) => m.error !== undefined) };
  }

  /**
   * What the config's `verification` asks after each backup: a structure check of the
   * new backup (enabled, the default) and a scratch restore (testRestore). Returns a
   * one-line description of any damage.
   */
  async #verifyNewBackup(repo: Repository, snapshotId: string, check: StructureCheckOptions): Promise<{ checked: string; damage?: string } | undefined> {
    const settings = this.#config.verification;
    if (!settings.enabled) return undefined;
    const { signal } = check;
    const snapshot = await repo.loadSnapshot(snapshotId);
    const problems = await checkSnapshotStructure(repo, snapshot, check);
    if (problems.length > 0) return { checked: 'structure', damage: `verification after backup ${snapshotId.slice(0, 8)} found damage: ${problems.slice(0, 3).join('; ')}` };
    if (!settings.testRestore) return { checked: 'structure' };
    const restored = await testRestore(repo, snapshot, signal);
    const checked = `structure; test restore of ${restored.files} files in ${restored.durationMs} ms`;
    if (restored.error) return { checked, damage: `test restore of backup ${snapshotId.slice(0, 8)} failed: ${restored.error}` };
    if (restored.mismatches.length > 0) return { checked, damage: `test restore of backup ${snapshotId.slice(0, 8)}: ${restored.mismatches.length} files differ (${restored.mismatches.slice(0, 3).join(', ')})` };
    return { checked };
  }

  /**
   * `backup copy`: copies backups (the given ids, else all) from one destination to
   * another, skipping those the target already holds (same source, time and tree).
   */
  async copyBackups(req: { from: string; to: string; backupIds?: string[] | undefined; signal?: AbortSignal | undefined }): Promise<CopyResult> {
    if (req.from === req.to) throw new UsageError('--from and --to name the same destination');
    const [from, to] = (await openDestinations(this.#config, this.#configDir, [req.from, req.to], this.#logger)).sort((a, b) => (a.name === req.from ? -1 : b.name === req.from ? 1 : 0));
    const runId = this.#catalog.runs.start({ kind: 'copy', destinations: [from!.name, to!.name] });
    const result: CopyResult = { runId, copied: [], skipped: [] };
    try {
      const source = await this.#openRepository(from!, { lock: { mode: 'shared', operation: 'copy' } });
      if (!source) throw new UsageError(`destination ${from!.name} holds no repository`);
      const target = (await this.#openRepository(to!, { create: true, chunker: source.config.chunker, lock: { mode: 'shared', operation: 'copy' } }))!;
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
        this.#cacheBackup(to!, target, await target.loadSnapshot(copied.id), runId);
        this.#catalog.runLogs.append(runId, 'info', `copied ${snapshot.id.slice(0, 8)} → ${copied.id.slice(0, 8)} (${copied.blobs} blobs, ${copied.bytes} bytes)`);
        result.copied.push({ from: snapshot.id, to: copied.id, source: snapshot.source, time: snapshot.time, blobs: copied.blobs, bytes: copied.bytes });
      }
    } catch (err) {
      this.#catalog.runs.finish(runId, { status: err instanceof InterruptedError ? 'interrupted' : 'failed', error: (err as Error).message });
      throw err;
    } finally {
      await this.close();
    }
    this.#catalog.runs.finish(runId, { status: 'succeeded', summary: { copied: result.copied.length, skipped: result.skipped.length } });
    this.#catalog.audit.append({ action: 'backup.copy', target: `${req.from}->${req.to}`, payload: { runId, copied: result.copied.map((c) => c.to) } });
    return result;
  }

  /**
   * `backup watch`: the continuous strategy. Takes a backup of each source now, then one
   * whenever its files change, so that no change is older than the RPO when its backup
   * lands. Runs until `signal` aborts; a backup in flight then finishes.
   */
  async watchSources(sources: string | string[], opts: { rpoMs?: number | undefined; debounceMs?: number | undefined; signal: AbortSignal }, onEvent: (e: WatchRunEvent) => void = () => undefined): Promise<{ backups: number }> {
    const names = this.#selectSources(sources);
    const watched = names.map((source) => {
      const cfg = this.#config.sources?.[source];
      if (cfg?.type !== 'files') throw new UsageError(`source ${source}: only files sources can be watched (it is ${cfg?.type})`);
      const rpo = opts.rpoMs ?? parseDuration(cfg.rpo ?? this.#config.rpo ?? '5m', `sources.${source}.rpo`);
      return { source, cfg, rpoMs: rpo };
    });
    // bkdr's own writes must not count as changes: local repositories and the catalog may sit inside a source.
    const ownFiles = [...this.#ownFiles().paths];
    let backups = 0;
    // Backups of different sources take turns: one manager runs one backup at a time.
    let turn: Promise<unknown> = Promise.resolve();
    const backUp = (source: string, changes?: { count: number; oldest: Date }) => {
      const next = turn.then(async () => {
        const result = await this.createBackup(source, { continuous: true });
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
          paths: w.cfg.paths.map((p) => resolve(this.#configDir, p)),
          exclude: w.cfg.exclude ?? [],
          ignore: ownFiles,
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

  /**
   * `catalog rebuild`: refills the catalog's list of backups from the repositories (the
   * source of truth), e.g. on a fresh machine with only the config and the password.
   */
  async rebuildCatalog(from?: string[]): Promise<{ destination: string; backups: number; added: number; removed: number }[]> {
    const rebuilt = await this.#onEachRepository(from, 'catalog', async (_repo, d) => {
      const before = new Set(this.#catalog.backups.list({ destination: d.name }).map((b) => b.id));
      await this.#syncCatalog(d);
      const after = new Set(this.#catalog.backups.list({ destination: d.name }).map((b) => b.id));
      return { destination: d.name, backups: after.size, added: [...after].filter((id) => !before.has(id)).length, removed: [...before].filter((id) => !after.has(id)).length };
    }, 'none');
    this.#catalog.audit.append({ action: 'catalog.rebuild', target: rebuilt.map((r) => r.destination).join(','), payload: { backups: rebuilt.reduce((n, r) => n + r.backups, 0) } });
    return rebuilt;
  }

  /**
   * `backup repair index`: a new index from the packs' headers. `backup repair snapshots`:
   * every backup that reaches data that cannot be read (after reading every pack) is
   * rewritten without the files it cannot restore. Exclusive lock; a dry run changes nothing.
   */
  async repairRepositories(what: 'index' | 'snapshots', opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined } = {}): Promise<RepairResult[]> {
    const dryRun = opts.dryRun ?? false;
    const runId = this.#catalog.runs.start({ kind: `repair-${what}` });
    const results = await this.#onEachRepository(
      opts.destinations,
      `repair ${what}`,
      async (repo, d): Promise<RepairResult> => {
        if (what === 'index') return { destination: d.name, index: await rebuildIndex(repo, { dryRun }) };
        const snapshots = await repo.listSnapshots();
        const inventory = await takeInventory(repo);
        const report = await checkRepository(repo, snapshots, { inventory, readPacks: new Set(inventory.stored.keys()) });
        const unreadable = new Set(report.unreadableBlobs);
        const repaired = await repairSnapshots(repo, snapshots, (id) => !repo.lookupBlob(id) || unreadable.has(id), { dryRun });
        if (!dryRun) await this.#syncCatalog(d);
        return { destination: d.name, snapshots: repaired };
      },
      dryRun ? 'shared' : 'exclusive',
      true,
    ).catch((err: unknown) => {
      this.#catalog.runs.finish(runId, { status: 'failed', error: (err as Error).message });
      throw err;
    });
    this.#catalog.runs.finish(runId, { status: 'succeeded', summary: { dryRun, results } });
    if (!dryRun) this.#catalog.audit.append({ action: `backup.repair.${what}`, target: results.map((r) => r.destination).join(','), payload: { runId } });
    return results;
  }

  /** `key list`: the key slots of every (or the named) encrypted destination. */
  async listKeys(destinations?: string[]): Promise<{ destination: string; encrypted: boolean; keys: KeyInfo[] }[]> {
    return this.#onEachRepository(destinations, 'key', async (repo, d) => ({ destination: d.name, encrypted: repo.encrypted, keys: repo.encrypted ? await repo.listKeys() : [] }));
  }

  /** `key add`: another password for every encrypted destination (or the named ones); no data is rewritten. */
  async addKey(newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string }[]> {
    const added = await this.#onEachRepository(destinations, 'key', async (repo, d) => (repo.encrypted ? { destination: d.name, keyId: await repo.addKey(newPassword) } : undefined));
    this.#catalog.audit.append({ action: 'key.add', target: added.map((a) => a.destination).join(','), payload: { keys: added.map((a) => a.keyId.slice(0, 8)) } });
    return added;
  }

  /** `key passwd`: adds a slot for the new password, then removes the slot the current one opened. */
  async changePassword(newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string; removed: string }[]> {
    const changed = await this.#onEachRepository(destinations, 'key', async (repo, d) => {
      if (!repo.encrypted || !repo.keyId) return undefined;
      const old = repo.keyId;
      const keyId = await repo.addKey(newPassword);
      await d.adapter.delete(`keys/${old}`);
      return { destination: d.name, keyId, removed: old };
    });
    this.#catalog.audit.append({ action: 'key.passwd', target: changed.map((c) => c.destination).join(','), payload: { keys: changed.map((c) => c.keyId.slice(0, 8)) } });
    return changed;
  }

  /** `key remove`: removes the slot with this id (or prefix) wherever it is; never a last key or the one in use. */
  async removeKey(id: string, destinations?: string[]): Promise<{ destination: string; removed: string }[]> {
    const removed = await this.#onEachRepository(destinations, 'key', async (repo, d) => {
      if (!repo.encrypted || !(await repo.listKeys()).some((k) => k.id.startsWith(id))) return undefined;
      return { destination: d.name, removed: await repo.removeKey(id) };
    });
    if (removed.length === 0) throw new UsageError(`no key ${id} on ${(await openDestinations(this.#config, this.#configDir, destinations, this.#logger)).map((d) => d.name).join(', ')}`);
    this.#catalog.audit.append({ action: 'key.remove', target: removed.map((r) => r.destination).join(','), payload: { keys: removed.map((r) => r.removed.slice(0, 8)) } });
    return removed;
  }

  /** Runs `fn` on each destination's repository (skipping destinations without one), closing as it goes. */
  async #onEachRepository<T>(
    names: string[] | undefined,
    operation: string,
    fn: (repo: Repository, d: Destination) => Promise<T | undefined>,
    mode: LockMode = 'shared',
    tolerateDamagedIndex = false,
  ): Promise<T[]> {
    const out: T[] = [];
    try {
      for (const destination of await openDestinations(this.#config, this.#configDir, names, this.#logger)) {
        const repo = await this.#openRepository(destination, { lock: { mode, operation }, tolerateDamagedIndex });
        if (!repo) continue;
        const value = await fn(repo, destination);
        if (value !== undefined) out.push(value);
      }
    } finally {
      await this.close();
    }
    return out;
  }

  /**
   * The backup side of a DR test. 'backup-integrity-test': verify every destination with
   * a sample of the data read and a test restore of the newest backup of each source;
   * passed means nothing is damaged. The verify run is kept in the catalog; the audit
   * trail records the test and its measured restore times.
   */
  async testDisasterRecovery(test: string, opts: { readDataPercent?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<DisasterRecoveryTestResult> {
    if (test !== 'backup-integrity-test') throw new UsageError(`unknown backup DR test '${test}' (available: backup-integrity-test)`);
    const verify = await this.verifyBackups({ readDataPercent: opts.readDataPercent ?? 10, testRestore: true, signal: opts.signal });
    const restores = verify.destinations.flatMap((d) => d.testRestores.map((t) => ({ destination: d.destination, ...t })));
    const passed = verify.status === 'clean' && restores.length > 0;
    const result: DisasterRecoveryTestResult = { test, passed, verifyRunId: verify.runId, restores, ...(passed ? {} : { reason: verify.status !== 'clean' ? `verify: ${verify.status}` : 'no backup to restore' }) };
    this.#catalog.audit.append({ action: 'dr.test', target: test, payload: { passed, verifyRunId: verify.runId, restoreMs: restores.map((r) => ({ destination: r.destination, source: r.source, ms: r.durationMs })) } });
    return result;
  }

  /**
   * `backup verify`: checks every destination's repository (structure; with
   * `readDataPercent`, the data of that share of packs; with `testRestore`, a scratch
   * restore). `status` is 'damaged' when anything is wrong; the result is kept in the
   * catalog as the run's summary, as evidence.
   */
  async verifyBackups(opts: VerifyOptions & { destinations?: string[] | undefined } = {}): Promise<VerifyResult> {
    const destinations = await openDestinations(this.#config, this.#configDir, opts.destinations, this.#logger);
    const runId = this.#catalog.runs.start({ kind: 'verify', destinations: destinations.map((d) => d.name) });
    const result: VerifyResult = { runId, status: 'clean', destinations: [], failures: [] };
    let lastError: unknown;
    try {
      for (const destination of destinations) {
        try {
          const repo = await this.#openRepository(destination, { lock: { mode: 'shared', operation: 'verify' }, tolerateDamagedIndex: true });
          if (!repo) continue;
          const checked = await verifyRepository(repo, destination.name, this.#catalog, opts);
          result.destinations.push(checked);
          const r = checked.report;
          this.#catalog.runLogs.append(runId, checked.damaged ? 'error' : 'info', `${destination.name}: ${checked.damaged ? 'DAMAGED' : 'clean'}; ${r.snapshots} backups, ${r.packs.read}/${r.packs.indexed} packs read`, {
            problems: r.problems.map((p) => p.message),
          });
        } catch (err) {
          if (err instanceof InterruptedError) throw err;
          // A backup id that is on another destination is not a failure of this one.
          if (opts.backupId && err instanceof UsageError && /no backup/.test(err.message)) {
            lastError = err;
            continue;
          }
          const message = err instanceof Error ? err.message : String(err);
          result.failures.push({ destination: destination.name, error: message, exitCode: err instanceof BkdrError ? err.exitCode : 1 });
          this.#catalog.runLogs.append(runId, 'error', `${destination.name}: ${message}`);
        } finally {
          await this.close();
        }
      }
      if (result.destinations.length === 0 && result.failures.length === 0) {
        throw lastError instanceof BkdrError ? lastError : new UsageError(opts.backupId ? `no backup ${opts.backupId} on ${destinations.map((d) => d.name).join(', ')}` : 'no destination holds a repository yet');
      }
    } catch (err) {
      this.#catalog.runs.finish(runId, { status: err instanceof InterruptedError ? 'interrupted' : 'failed', error: (err as Error).message });
      throw err;
    }
    const damaged = result.destinations.some((d) => d.damaged);
    result.status = damaged ? 'damaged' : result.failures.length > 0 ? (result.destinations.length > 0 ? 'partial' : 'failed') : 'clean';
    this.#catalog.runs.finish(runId, {
      status: result.status === 'clean' ? 'succeeded' : result.status === 'partial' ? 'partial' : 'failed',
      ...(result.status !== 'clean' ? { error: result.status === 'damaged' ? 'damage found' : result.failures.map((f) => `${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: { status: result.status, backupId: opts.backupId, readDataPercent: opts.readDataPercent, testRestore: opts.testRestore ?? false, destinations: result.destinations, failures: result.failures },
    });
    this.#catalog.audit.append({ action: 'backup.verify', target: destinations.map((d) => d.name).join(','), payload: { runId, status: result.status } });
    return result;
  }

  /**
   * `backup prune`: retention per source on every destination, then deletion of data no
   * kept backup needs. Holds each repository's exclusive lock (a dry run: a shared one).
   */
  async pruneBackups(opts: { dryRun?: boolean | undefined; destinations?: string[] | undefined; signal?: AbortSignal | undefined } & PruneSafety = {}): Promise<PruneResult> {
    const dryRun = opts.dryRun ?? false;
    const destinations = await openDestinations(this.#config, this.#configDir, opts.destinations, this.#logger);
    const runId = this.#catalog.runs.start({ kind: 'prune', destinations: destinations.map((d) => d.name) });
    const result: PruneResult = { runId, dryRun, status: 'succeeded', destinations: [], failures: [] };
    try {
      for (const destination of destinations) {
        try {
          const repo = await this.#openRepository(destination, { lock: { mode: dryRun ? 'shared' : 'exclusive', operation: 'prune' } });
          if (!repo) continue;
          const pruned = await pruneRepository(repo, destination.name, this.#config, { dryRun, signal: opts.signal, force: opts.force, countEmpty: opts.countEmpty });
          result.destinations.push(pruned);
          if (!dryRun) await this.#syncCatalog(destination);
          this.#catalog.runLogs.append(runId, 'info', `${destination.name}: ${dryRun ? 'would forget' : 'forgot'} ${pruned.forgotten} backups${pruned.report ? `, freed ${pruned.report.bytesFreed} bytes` : ''}`, { packs: pruned.plan.packs });
        } catch (err) {
          if (err instanceof InterruptedError) throw err;
          const message = err instanceof Error ? err.message : String(err);
          result.failures.push({ destination: destination.name, error: message, exitCode: err instanceof BkdrError ? err.exitCode : 1, ...(err instanceof RetentionRefusedError ? { refused: true } : {}) });
          this.#catalog.runLogs.append(runId, 'error', `${destination.name}: ${message}`);
        } finally {
          // Release this destination's lock before the next one: a prune of many destinations holds one at a time.
          await this.close();
        }
      }
    } catch (err) {
      this.#catalog.runs.finish(runId, { status: 'interrupted', error: (err as Error).message });
      throw err;
    }
    result.status = result.failures.length === 0 ? 'succeeded' : result.destinations.length > 0 ? 'partial' : 'failed';
    this.#catalog.runs.finish(runId, {
      status: result.status,
      ...(result.failures.length > 0 ? { error: result.failures.map((f) => `${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: { dryRun, destinations: result.destinations.map((d) => ({ destination: d.destination, forgotten: d.forgotten, bytesFreed: d.report?.bytesFreed ?? 0 })) },
    });
    if (!dryRun) this.#catalog.audit.append({ action: 'backup.prune', target: destinations.map((d) => d.name).join(','), payload: { runId, forgotten: result.destinations.flatMap((d) => d.decisions.filter((x) => !x.keep).map((x) => x.id)) } });
    return result;
  }

  /** Incremental compares with the source's newest snapshot, differential with its newest full one. */
  async #findParent(repo: Repository, source: string, strategy: BackupType): Promise<Snapshot | undefined> {
    const snapshots = (await repo.listSnapshots()).filter((s) => s.source === source && (strategy === 'incremental' || s.strategy === 'full'));
    return snapshots.at(-1);
  }

  /** Lists backups, refreshing the catalog from each reachable repository first (the repository is the truth). */
  async listBackups(filter: { source?: string | undefined; destination?: string | undefined; since?: string | Date | undefined } = {}): Promise<BackupSummary[]> {
    const destinations = await openDestinations(this.#config, this.#configDir, filter.destination ? [filter.destination] : undefined, this.#logger);
    try {
      for (const destination of destinations) await this.#syncCatalog(destination);
    } finally {
      await this.close();
    }
    const since = filter.since === undefined ? undefined : filter.since instanceof Date ? filter.since : parseTimeExpression(filter.since);
    return this.#catalog.backups
      .list({
        ...(filter.source ? { source: filter.source } : {}),
        ...(filter.destination ? { destination: filter.destination } : {}),
        ...(since ? { since } : {}),
      })
      .map(toSummary);
  }

  async showBackup(backupId: string, opts: { ls?: string | boolean | undefined; destination?: string | undefined } = {}): Promise<{ backup: BackupSummary; entries?: LsEntry[] }> {
    try {
      return await this.#showBackup(backupId, opts);
    } finally {
      await this.close();
    }
  }

  async #showBackup(backupId: string, opts: { ls?: string | boolean | undefined; destination?: string | undefined }): Promise<{ backup: BackupSummary; entries?: LsEntry[] }> {
    const { repo, snapshot, destination } = await this.#resolveBackup({ backupId, destination: opts.destination });
    const backup = snapshotSummary(snapshot, destination.name);
    if (opts.ls === undefined || opts.ls === false) return { backup };
    const entries: LsEntry[] = [];
    const under = typeof opts.ls === 'string' ? opts.ls : '/';
    const start = under === '/' ? { node: undefined, treeId: snapshot.tree } : await findNode(repo, snapshot.tree, under);
    if (under !== '/' && !start.node) throw new UsageError(`${under} is not in backup ${snapshot.id.slice(0, 8)}`);
    if (start.node && start.node.type !== 'dir') {
      entries.push(lsEntry(under, start.node));
    } else {
      const base = Buffer.from(under === '/' ? '' : under.replace(/\/+$/, ''));
      for await (const { path, node } of walkSnapshotTree(repo, start.treeId, base)) entries.push(lsEntry(path.toString(), node));
    }
    return { backup, entries };
  }

  async restoreFromBackup(req: RestoreRequest, onEvent: (e: BackupEvent) => void = () => undefined): Promise<RestoreOutcome> {
    const physical = req.source ? this.#config.sources?.[req.source] : undefined;
    if (physical?.type === 'postgres' && physical.mode === 'physical' && req.targetLocation && !req.archive && !req.backupId) return this.#restorePostgresDataDirectory(req, req.source!);
    const intoSource = req.targetDatabase !== undefined || req.pipe === true;
    if (!req.archive && !req.targetLocation && !intoSource) throw new UsageError('restore needs --target <dir>, --archive <file>, --target-db <name> or --pipe');
    // Not found: the repositories it opened (and locked) to look are let go before the error reaches the caller.
    const { repo, snapshot, destination, picked } = await this.#resolveBackup(req, 'shared').catch(async (err: unknown) => {
      await this.close();
      throw err;
    });
    const runId = this.#catalog.runs.start({ kind: 'restore', source: snapshot.source, destinations: [destination.name] });
    const target = req.targetDatabase !== undefined ? `database ${req.targetDatabase}` : req.pipe ? 'restore command' : (req.targetLocation ?? req.archive);
    this.#catalog.runLogs.append(runId, 'info', `restore of ${snapshot.id.slice(0, 8)} from ${destination.name}`, { picked, target });
    const outcome: RestoreOutcome = { runId, backup: snapshotSummary(snapshot, destination.name), ...(picked ? { picked } : {}) };
    const restoreFrom = async (from: Repository, force: boolean | undefined) => {
      if (intoSource) {
        const source = this.#streamSourceOf(snapshot.source);
        if (!source.restore) throw new UsageError(`source ${snapshot.source} cannot be restored into a database or command: restore it to a file with --target <dir>`);
        const { stream } = await streamBackupFile(from, snapshot);
        outcome.into = await source.restore(stream, { database: req.targetDatabase, pipe: req.pipe, force }, req.signal);
      } else if (req.archive) outcome.archive = await exportArchive(from, snapshot.tree, req.archive, { force: force ?? false });
      else {
        outcome.restore = await restoreTree({
          repo: from,
          backupId: snapshot.id,
          tree: snapshot.tree,
          target: req.targetLocation ?? '',
          include: req.include,
          force,
          verify: req.verification,
          signal: req.signal,
          onProgress: (p) => onEvent({ type: 'restore-progress', ...p }),
        });
        for (const w of outcome.restore.warnings) this.#catalog.runLogs.append(runId, 'warn', w);
      }
    };
    try {
      try {
        await restoreFrom(repo, req.force);
      } catch (err) {
        // A blob that fails its check: another destination holding the same backup takes over,
        // rewriting what the failed attempt wrote. Not when --from named one.
        const fallback = err instanceof IntegrityError && !(err instanceof UnsafeBackupError) && !req.destination ? await this.#findCopyElsewhere(snapshot, destination) : undefined;
        if (!fallback) throw err;
        this.#logger.warn(`${(err as Error).message}; restoring from ${fallback.destination.name} instead`);
        this.#catalog.runLogs.append(runId, 'warn', `${(err as Error).message}; fell over to ${fallback.destination.name}`);
        await restoreFrom(fallback.repo, true);
        outcome.backup = snapshotSummary(fallback.snapshot, fallback.destination.name);
      }
    } catch (err) {
      this.#catalog.runs.finish(runId, { status: err instanceof InterruptedError ? 'interrupted' : 'failed', error: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      await this.close();
    }
    const mismatches = outcome.restore?.verified?.mismatches ?? [];
    this.#catalog.runs.finish(runId, { status: mismatches.length > 0 ? 'failed' : 'succeeded', summary: { backup: snapshot.id, target: req.targetLocation ?? req.archive, mismatches } });
    this.#catalog.audit.append({ action: 'restore', target: req.targetLocation ?? req.archive ?? '', payload: { runId, backup: snapshot.id, destination: destination.name } });
    return outcome;
  }

  /**
   * A physical postgres source: the newest base backup before `at` into a data
   * directory, with recovery settings that replay archived WAL up to `at`.
   */
  async #restorePostgresDataDirectory(req: RestoreRequest, source: string): Promise<RestoreOutcome> {
    const at = req.at === undefined ? undefined : req.at instanceof Date ? req.at : parseTimeExpression(req.at);
    const destinations = await openDestinations(this.#config, this.#configDir, req.destination ? [req.destination] : undefined, this.#logger);
    const runId = this.#catalog.runs.start({ kind: 'restore', source, destinations: destinations.map((d) => d.name) });
    try {
      let lastError: unknown;
      for (const destination of destinations) {
        try {
          const repo = await this.#openRepository(destination, { lock: { mode: 'shared', operation: 'restore' } });
          if (!repo) continue;
          const restored = await restorePointInTime({
            repo,
            source,
            configPath: this.#configPath,
            at,
            target: resolve(req.targetLocation!),
            force: req.force,
            passwordFileForRecovery: process.env['BKDR_PASSWORD_FILE'] ? resolve(process.env['BKDR_PASSWORD_FILE']) : undefined,
            signal: req.signal,
          });
          const b = restored.baseBackup;
          const into = `base backup ${b.id.slice(0, 8)} (ended ${b.endTime}) restored into ${restored.target}; ${restored.recoveryTarget ? `recovery to ${restored.recoveryTarget}` : 'recovery to the end of the archived WAL'} is configured: start PostgreSQL on it (recoverable window ${restored.window.earliest} to ${restored.window.latest})`;
          this.#catalog.runs.finish(runId, { status: 'succeeded', summary: { backup: b.id, target: restored.target, recoveryTarget: restored.recoveryTarget, window: restored.window } });
          this.#catalog.audit.append({ action: 'restore', target: restored.target, payload: { runId, backup: b.id, destination: destination.name, recoveryTarget: restored.recoveryTarget } });
          return { runId, backup: snapshotSummary(b, destination.name), picked: `picked base backup ${b.id.slice(0, 8)} from ${destination.name}`, into };
        } catch (err) {
          // Outside the window, a non-empty target: the same on every destination.
          if (err instanceof UsageError && !/no base backup/.test(err.message)) throw err;
          lastError = err;
        }
      }
      throw lastError instanceof BkdrError ? lastError : new UsageError(`no base backup of ${source} on ${destinations.map((d) => d.name).join(', ')}`);
    } catch (err) {
      this.#catalog.runs.finish(runId, { status: 'failed', error: (err as Error).message });
      throw err;
    } finally {
      await this.close();
    }
  }

  /** The configured stream source (database, command) of a backup's source name. */
  #streamSourceOf(source: string): StreamSource {
    const config = this.#config.sources?.[source];
    if (!config) throw new UsageError(`source ${source} is not in the config: restore its backup to a file with --target <dir>`);
    if (config.type === 'files') throw new UsageError(`source ${source} is a files source: restore it with --target <dir>`);
    return createStreamSource(source, config, this.#configDir);
  }

  /** The same backup (source, time and tree) on another reachable destination, by priority. */
  async #findCopyElsewhere(snapshot: Snapshot, except: Destination): Promise<{ repo: Repository; snapshot: Snapshot; destination: Destination } | undefined> {
    for (const destination of await openDestinations(this.#config, this.#configDir, undefined, this.#logger)) {
      if (destination.name === except.name) continue;
      try {
        const repo = await this.#openRepository(destination, { lock: { mode: 'shared', operation: 'restore' } });
        const match = repo ? (await repo.listSnapshots()).find((s) => s.source === snapshot.source && s.time === snapshot.time && s.tree === snapshot.tree) : undefined;
        if (repo && match) return { repo, snapshot: match, destination };
      } catch {
        // Unreachable too: try the next one.
      }
    }
    return undefined;
  }

  async getBackupStatus(): Promise<BackupStatus> {
    const destinations = await openDestinations(this.#config, this.#configDir, undefined, this.#logger);
    const perDestination: BackupStatus['destinations'] = [];
    for (const d of destinations) {
      let reachable = true;
      let storedBytes = 0;
      let packs = 0;
      try {
        await this.#syncCatalog(d);
        for await (const obj of d.adapter.list('data/')) {
          storedBytes += obj.size;
          packs++;
        }
      } catch {
        reachable = false;
      }
      const backups = this.#catalog.backups.list({ destination: d.name });
      perDestination.push({ name: d.name, type: d.type, encrypted: d.encrypted, offsite: d.offsite, reachable, backups: backups.length, packs, storedBytes, compression: d.compression.algorithm });
    }
    const recoverable = await this.#recoverableWindows(destinations).finally(() => this.close());
    const all = this.#catalog.backups.list({}).map(toSummary);
    const lastPerSource = this.sourceNames().map((source) => ({ source, last: all.find((b) => b.source === source) }));
    const recentFailures = this.#catalog.runs.list({ limit: 50 }).filter((r) => FAILED_RUN_STATUSES.includes(r.status)).slice(0, 10);
    // 3-2-1: the original plus the destinations that hold a backup; the original's disk counts as one medium.
    const holding = perDestination.filter((d) => d.backups > 0);
    const rule321 = {
      copies: 1 + holding.length,
      media: new Set(['local', ...holding.map((d) => d.type)]).size,
      offsite: holding.filter((d) => d.offsite).length,
      met: false,
    };
    rule321.met = rule321.copies >= 3 && rule321.media >= 2 && rule321.offsite >= 1;
    return {
      totals: { backups: all.length, sources: this.sourceNames().length, destinations: destinations.length, bytes: all.reduce((s, b) => s + b.summary.bytes, 0) },
      rule321,
      lastPerSource: lastPerSource.map(({ source, last }) => ({
        source,
        ...(last ? { backupId: last.id, time: last.time, destination: last.destination, strategy: last.strategy } : {}),
        ...(last?.summary.missingPaths?.length ? { missingPaths: last.summary.missingPaths } : {}),
      })),
      recentFailures: recentFailures.map((r) => ({ runId: r.id, kind: r.kind, status: r.status, startedAt: r.startedAt, error: r.error ?? '' })),
      destinations: perDestination,
      recoverable,
    };
  }

  /** Per physical postgres source: the window `restore --at` can reach, from the first destination that has base backups. */
  async #recoverableWindows(destinations: Destination[]): Promise<BackupStatus['recoverable']> {
    const out: BackupStatus['recoverable'] = [];
    for (const [source, cfg] of Object.entries(this.#config.sources ?? {})) {
      if (cfg.type !== 'postgres' || cfg.mode !== 'physical') continue;
      for (const d of destinations) {
        const repo = await this.#openRepository(d).catch(() => undefined);
        if (!repo) continue;
        const window = recoverableWindow((await repo.listSnapshots()).filter((s) => s.source === source), await repo.listWal(source));
        if (window) {
          out.push({ source, destination: d.name, ...window });
          break;
        }
      }
    }
    return out;
  }

  getExecutionLogs(runId: string): { run: ReturnType<Catalog['runs']['get']>; logs: ReturnType<Catalog['runLogs']['forRun']> } {
    const run = this.#catalog.runs.get(runId);
    if (!run) throw new UsageError(`no run ${runId}`);
    return { run, logs: this.#catalog.runLogs.forRun(run.id) };
  }

  async close(): Promise<void> {
    const repos = [...this.#repos.values()];
    this.#repos.clear();
    for (const r of repos) await (await r.catch(() => undefined))?.close();
  }

  #selectSources(sources: string | string[]): string[] {
    const all = this.sourceNames();
    const wanted = sources === 'all' ? all : Array.isArray(sources) ? (sources.length === 0 ? all : sources) : [sources];
    for (const s of wanted) if (!all.includes(s)) throw new UsageError(`unknown source '${s}' (configured: ${all.join(', ') || 'none'})`);
    if (wanted.length === 0) throw new UsageError('the config has no sources');
    return wanted;
  }

  /**
   * Runs `work` (blocking catalog writes) once the destinations' repositories are opening
   * and the first key derivation is under way, or once every open has settled (open, absent
   * or failed): the run's row is the catalog's first write, and when the disk holds
   * unwritten data its fsync (of the new WAL's header) held this thread 70-80 ms before the
   * key derivation even began. The opens are the ones the run's sources take from #repos;
   * their failures are theirs to report. They run side by side, where the sources opened
   * one destination after another: N scrypts at once, 32 MiB each, for a moment.
   */
  async #besideKeyDerivation<T>(destinations: Destination[], lock: { mode: LockMode; operation: string }, work: () => T): Promise<T> {
    let underWay!: () => void;
    const deriving = new Promise<void>((resolve) => (underWay = resolve));
    const opens = destinations.map((d) => this.#openRepository(d, { lock, onKeyDerivation: underWay }).then(
      () => undefined,
      () => undefined,
    ));
    await Promise.race([deriving, Promise.all(opens)]);
    return work();
  }

  async #openRepository(
    destination: Destination,
    opts: {
      create?: boolean;
      inBackground?: boolean;
      chunker?: ChunkerParams | undefined;
      lock?: { mode: LockMode; operation: string };
      tolerateDamagedIndex?: boolean;
      onKeyDerivation?: () => void;
    } = {},
  ): Promise<Repository | undefined> {
    let pending = this.#repos.get(destination.name);
    // A destination found empty by a read-only call still gets its repository when a backup needs one.
    if (pending && opts.create && !(await pending.catch(() => undefined))) pending = undefined;
    if (!pending) {
      pending = (async () => {
        const password = destination.encrypted ? await this.#getPassword() : null;
        const lock =
          opts.lock && opts.lock.mode !== 'none'
            ? {
                exclusive: opts.lock.mode === 'exclusive',
                operation: opts.lock.operation,
                waitMs: this.#lockWaitMs,
                onStale: (l: LockInfo, reason: string) => this.#logger.warn(`destination ${destination.name}: ignoring the stale lock of ${describeLock(l)}: ${reason}`),
                ...(opts.lock.operation === 'verify' || opts.lock.operation === 'restore'
                  ? { unlockedIfUnwritable: (reason: string) => this.#logger.warn(`destination ${destination.name}: ${reason}`) }
                  : {}),
              }
            : undefined;
        const open = { password, compression: destination.compression, lock, tolerateDamagedIndex: opts.tolerateDamagedIndex, onKeyDerivation: opts.onKeyDerivation };
        try {
          if (opts.create) return (await Repository.openOrCreate(destination.adapter, { ...open, chunker: opts.chunker, inBackground: opts.inBackground ?? false })).repo;
          if (!(await Repository.exists(destination.adapter))) return undefined;
          return await Repository.open(destination.adapter, open);
        } catch (err) {
          if (err instanceof BkdrError) throw err;
          throw new OperationError(`destination ${destination.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      })();
      this.#repos.set(destination.name, pending);
    }
    return pending;
  }

  #ownFiles(): OwnFiles {
    return ownFilesOf(this.#config, this.#configDir, this.#catalog.path);
  }

  #getPassword(): Promise<string> {
    this.#password ??= this.#passwordSource();
    return this.#password;
  }

  async #syncCatalog(destination: Destination): Promise<void> {
    const repo = await this.#openRepository(destination);
    if (!repo) return;
    const snapshots = await repo.listSnapshots();
    const present = new Set(snapshots.map((s) => s.id));
    const cached = new Set(this.#catalog.backups.list({ destination: destination.name }).map((b) => b.id));
    for (const s of snapshots) if (!cached.has(s.id)) this.#cacheBackup(destination, repo, s);
    for (const id of cached) if (!present.has(id)) this.#catalog.backups.delete(destination.name, id);
  }

  #cacheBackup(destination: Destination, repo: Repository, s: Snapshot, runId?: string): void {
    this.#catalog.backups.upsert({
      id: s.id,
      destination: destination.name,
      repositoryId: repo.id,
      source: s.source,
      strategy: s.strategy,
      parentId: s.parent ?? null,
      time: s.time,
      hostname: s.hostname,
      paths: s.paths,
      tags: s.tags,
      files: s.summary.files,
      dirs: s.summary.dirs,
      bytes: s.summary.bytes,
      addedBytes: s.summary.addedBytes,
      storedBytes: s.summary.storedBytes,
      runId: runId ?? null,
      summary: s.summary,
    });
  }

  /** Finds the backup a restore or show means: by id, or the newest of a source at or before a time. */
  async #resolveBackup(
    req: { backupId?: string | undefined; at?: string | Date | undefined; source?: string | undefined; destination?: string | undefined },
    lock: LockMode = 'none',
  ): Promise<{ repo: Repository; snapshot: Snapshot; destination: Destination; picked?: string }> {
    const destinations = await openDestinations(this.#config, this.#configDir, req.destination ? [req.destination] : undefined, this.#logger);
    if (req.source) this.#selectSources(req.source);
    const at = req.at === undefined ? undefined : req.at instanceof Date ? req.at : parseTimeExpression(req.at);
    let lastError: unknown;
    // Without an id: the newest backup at or before `at` across every reachable destination (a
    // run that failed on the first destination leaves its newest backup on another); ties go to priority.
    let best: { repo: Repository; snapshot: Snapshot; destination: Destination } | undefined;
    const matchedSources = new Set<string>();
    for (const destination of destinations) {
      let repo: Repository | undefined;
      try {
        repo = await this.#openRepository(destination, { lock: { mode: lock, operation: 'restore' } });
      } catch (err) {
        if (err instanceof BkdrError && (err.exitCode === 2 || err.exitCode === 4)) throw err;
        lastError = err;
        // Fall over to the next destination by priority, and say so.
        this.#logger.warn(`destination ${destination.name} unreachable (${(err as Error).message}); trying the next one`);
        continue;
      }
      if (!repo) continue;
      if (req.backupId) {
        try {
          return { repo, snapshot: await repo.loadSnapshot(req.backupId), destination };
        } catch (err) {
          lastError = err;
          continue;
        }
      }
      const candidates = (await repo.listSnapshots()).filter((s) => (!req.source || s.source === req.source) && (!at || new Date(s.time).getTime() <= at.getTime()));
      for (const s of candidates) matchedSources.add(s.source);
      const snapshot = candidates.at(-1);
      if (snapshot && (!best || snapshot.time > best.snapshot.time)) best = { repo, snapshot, destination };
    }
    if (!req.source && matchedSources.size > 1) throw new UsageError(`backups of several sources (${[...matchedSources].join(', ')}) match: pass --source`);
    if (best) {
      const { snapshot, destination } = best;
      const picked = `picked backup ${snapshot.id.slice(0, 8)} of ${snapshot.source} taken ${snapshot.time} from ${destination.name}${at ? ` (newest at or before ${at.toISOString()})` : ' (newest)'}`;
      return { ...best, picked };
    }
    if (lastError instanceof BkdrError) throw lastError;
    if (req.backupId) throw new UsageError(`no backup ${req.backupId} on ${destinations.map((d) => d.name).join(', ')}`);
    throw new UsageError(`no backup${req.source ? ` of ${req.source}` : ''}${at ? ` taken at or before ${at.toISOString()}` : ''} on ${destinations.map((d) => d.name).join(', ')}`);
  }
}

export type WatchRunEvent =
  | { type: 'watching'; source: string; paths: string[]; rpoMs: number }
  | { type: 'change'; source: string; path: string }
  | { type: 'backup'; source: string; status: BackupRunResult['status']; snapshotIds: string[]; changes: number; oldestChangeAgeMs?: number; failures: string[] }
  | { type: 'failed'; source: string; error: string };

export interface DisasterRecoveryTestResult {
  test: string;
  passed: boolean;
  reason?: string;
  verifyRunId: string;
  restores: (TestRestoreResult & { destination: string })[];
}

export interface RepairResult {
  destination: string;
  index?: IndexRepair;
  snapshots?: SnapshotRepair[];
}

export interface VerifyResult {
  runId: string;
  status: 'clean' | 'damaged' | 'partial' | 'failed';
  destinations: DestinationVerifyResult[];
  failures: { destination: string; error: string; exitCode: number }[];
}

export interface PruneResult {
  runId: string;
  dryRun: boolean;
  status: 'succeeded' | 'partial' | 'failed';
  destinations: DestinationPruneResult[];
  /** `refused`: retention would have forgotten every non-empty backup of a source there; nothing was pruned on it. */
  failures: { destination: string; error: string; exitCode: number; refused?: boolean }[];
}

export interface CopyResult {
  runId: string;
  copied: { from: string; to: string; source: string; time: string; blobs: number; bytes: number }[];
  skipped: { from: string; to: string }[];
}

export interface BackupStatus {
  totals: { backups: number; sources: number; destinations: number; bytes: number };
  /** The 3-2-1 rule: 3 copies (the original counts), 2 media, 1 offsite. */
  rule321: { copies: number; media: number; offsite: number; met: boolean };
  /** `missingPaths`: configured paths the last backup could not reach, so it holds only the others. */
  lastPerSource: { source: string; backupId?: string; time?: string; destination?: string; strategy?: string; missingPaths?: string[] }[];
  recentFailures: { runId: string; kind: string; status: string; startedAt: string; error: string }[];
  destinations: { name: string; type: string; encrypted: boolean; offsite: boolean; reachable: boolean; backups: number; packs: number; storedBytes: number; compression: string }[];
  /** Physical database sources: the earliest and latest points a point-in-time restore can reach. */
  recoverable: { source: string; destination: string; earliest: string; latest: string }[];
}

export interface LsEntry {
  path: string;
  type: string;
  mode: string;
  size: number;
  mtime: string;
  linkTarget?: string;
}

function lsEntry(path: string, node: TreeNode): LsEntry {
  return {
    path,
    type: node.type,
    mode: `0${node.mode.toString(8)}`,
    size: node.size ?? 0,
    mtime: new Date(Number(node.mtimeNs / 1_000_000n)).toISOString(),
    ...(node.linkTarget ? { linkTarget: node.linkTarget.toString() } : {}),
  };
}

/**
 * A destination that failed mid-backup: its stored packs are indexed for the next run
 * or deleted (Repository.settleAfterFailure), and its error says which, and how much
 * space the failed run leaves behind.
 */
async function settleFailedMember(m: FanOutMember): Promise<void> {
  const left = await m.repo.settleAfterFailure();
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  const said: string[] = [];
  if (left.indexed.packs > 0) said.push(`its ${left.indexed.packs} packs (${mib(left.indexed.bytes)}) are kept and indexed for the next run to reuse`);
  if (left.deleted.packs > 0) said.push(`its ${left.deleted.packs} packs (${mib(left.deleted.bytes)}) were deleted, since no index could name them`);
  if (left.left.packs > 0) said.push(`${left.left.packs} packs (${mib(left.left.bytes)}) could be neither indexed nor deleted and take space until the next prune`);
  if (said.length === 0 || m.error instanceof InterruptedError) return;
  const err = m.error;
  const message = `${err instanceof Error ? err.message : String(err)}; the failed run left behind: ${said.join('; ')}`;
  m.error = new BkdrError(message, err instanceof BkdrError ? err.exitCode : ExitCode.Failed, { cause: err });
}

function resolveStrategy(requested: BackupType | undefined, configured: string | undefined): BackupType {
  const s = requested ?? configured ?? 'incremental';
  if (s === 'continuous') return 'incremental';
  if (s !== 'full' && s !== 'incremental' && s !== 'differential') throw new UsageError(`--type ${s}: must be full, incremental or differential`);
  return s;
}

function snapshotSummary(s: Snapshot, destination: string): BackupSummary {
  return { id: s.id, destination, source: s.source, strategy: s.strategy, parent: s.parent, time: s.time, hostname: s.hostname, paths: s.paths, tags: s.tags, summary: s.summary };
}

function toSummary(b: ReturnType<Catalog['backups']['list']>[number]): BackupSummary {
  return {
    id: b.id,
    destination: b.destination,
    source: b.source,
    strategy: b.strategy,
    parent: b.parentId ?? undefined,
    time: b.time,
    hostname: b.hostname,
    paths: b.paths,
    tags: b.tags,
    summary: b.summary as Snapshot['summary'],
  };
}
