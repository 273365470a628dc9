import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { BkdrError, IntegrityError, InterruptedError, OperationError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { checkSnapshotStructure, type StructureCheckOptions } from '../repo/check.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import type { Destination } from '../runtime/destinations.js';
import type { LockMode, RepositorySession } from '../runtime/repository-session.js';
import { withRun } from '../runtime/run-recorder.js';
import { createStreamSource } from '../sources/create-stream-source.js';
import type { StreamSource } from '../sources/stream-source.js';
import { type BackupContext, type BackupType, findParent, selectSources } from './backup-context.js';
import { cacheBackup } from './catalog-sync.js';
import { type DirCache, openDirCache, saveDirCache } from './dir-cache-file.js';
import { type FanOutMember, FanOutRepository } from './fan-out-repository.js';
import { type ArchiveProgress, type ArchiveResult, archiveFiles } from './files-archiver.js';
import { withRates } from './progress-meter.js';
import { estimateFilesSource, estimateFilesSourceLater } from './source-estimate.js';
import { checkSourcePaths } from './source-paths.js';
import { archiveStream } from './stream-archiver.js';
import { testRestore } from './verify-run.js';

import { PROGRAM_VERSION } from './program-version.js';

export { PROGRAM_VERSION };

export type { BackupType } from './backup-context.js';

export type BackupEvent =
  | { type: 'start'; source: string; destination: string; strategy: BackupType; parent?: string | undefined }
  | { type: 'estimate'; source: string; files: number; bytes: number }
  | ({ type: 'progress'; source: string; destination: string; files: number; bytes: number; bytesRead: number } & Partial<ProgressRates>)
  | { type: 'warning'; source: string; path: string; message: string }
  | { type: 'done'; source: string; destination: string; snapshotId: string }
  | ({ type: 'restore-progress'; files: number; totalFiles: number; bytes: number; totalBytes: number } & Partial<Omit<ProgressRates, 'totalBytes'>>);

/** What the service measures of a run's progress (progress-meter.ts), so every front end shows the same numbers. */
export interface ProgressRates {
  elapsedMs: number;
  /** Bytes read (a backup) or written (a restore) per second since the source's start. */
  bytesPerSecond: number;
  /** A backup's estimated total, once its estimate is in. */
  totalBytes: number;
  /** The time left, only when it can honestly be forecast. */
  etaMs: number;
}

export interface CreateBackupOptions {
  type?: BackupType | undefined;
  /**
   * Recorded in the run's log. The library changes no process priority: a process that
   * embeds it runs other work too. `bkdr backup run` and `bkdr schedule run` apply it to
   * their own process (runtime/process-priority.ts) and pass what they did as `priorityApplied`.
   */
  priority?: 'low' | 'normal' | 'high' | undefined;
  /** What the caller did to the process's CPU and I/O priority for this run, for the log. */
  priorityApplied?: string | undefined;
  tags?: string[] | undefined;
  destinations?: string[] | undefined;
  dryRun?: boolean | undefined;
  /** Taken by `backup watch`: compared with the newest backup like an incremental, recorded as `continuous`. */
  continuous?: boolean | undefined;
  /** Walk the sources once more to total them, for an ETA (costs a stat per file). */
  estimate?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Called with the run's id once it is recorded, before anything is read (the API returns it at once). */
  onCreated?: ((runId: string) => void) | undefined;
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

/** What a backup run holds on its repositories: none for a dry run, which writes nothing. */
function backupLock(opts: CreateBackupOptions): { mode: LockMode; operation: string } {
  return { mode: opts.dryRun ? 'none' : 'shared', operation: 'backup' };
}

/**
 * `backup run`: each named source to every destination (DESIGN.md "Destinations"): one
 * failed destination makes the run partial, never silent; a source with nothing to read
 * writes nothing.
 */
export async function runBackup(
  ctx: BackupContext,
  sources: string | string[] = 'all',
  opts: CreateBackupOptions = {},
  listener: (e: BackupEvent) => void = () => undefined,
): Promise<BackupRunResult> {
  const onEvent = withRates(listener, ctx.clock);
  const names = selectSources(ctx.config, sources);
  const destinations = await ctx.destinations(opts.destinations);
  const started = Date.now();
  const session = ctx.session();
  const run = new BackupRun(ctx, session);
  return withRun(ctx.runStores, {
    start: {
      kind: 'backup',
      source: names.join(','),
      destinations: destinations.map((d) => d.name),
      ...(opts.type ? { strategy: opts.type } : {}),
      // Written after a password prompt or a lock wait, perhaps: the run began before them.
      startedAt: new Date(started),
    },
    ready: () => besideKeyDerivation(session, destinations, backupLock(opts)),
    cleanup: () => session.close(),
    interruptedNote: 'interrupted; no snapshot was written for the unfinished source',
    onCreated: opts.onCreated,
    work: async ({ id: runId, log }) => {
      const result: BackupRunResult = { runId, status: 'succeeded', dryRun: opts.dryRun ?? false, planned: [], backups: [], failures: [], durationMs: 0 };
      log('info', `backup of ${names.join(', ')} to ${destinations.map((d) => d.name).join(', ')}`, {
        priority: opts.priority ?? 'normal',
        ...(opts.priorityApplied !== undefined ? { priorityApplied: opts.priorityApplied } : {}),
        dryRun: opts.dryRun ?? false,
      });
      for (const source of names) {
        const outcome = await run.backupSource(runId, source, destinations, opts, onEvent, log);
        result.backups.push(...outcome.backups);
        result.planned.push(...outcome.planned);
        result.failures.push(...outcome.failures);
      }
      const warned = result.backups.some((b) => b.warnings > 0);
      result.status = result.failures.length === 0 && !warned ? 'succeeded' : result.backups.length + result.planned.length > 0 ? 'partial' : 'failed';
      result.durationMs = Date.now() - started;
      return result;
    },
    outcome: (result) => ({
      status: result.status,
      ...(result.failures.length > 0 ? { error: result.failures.map((f) => `${f.source}→${f.destination}: ${f.error}`).join('; ') } : {}),
      summary: { backups: result.backups.map((b) => ({ source: b.source, destination: b.destination, snapshotId: b.snapshotId })), failures: result.failures },
      audit: opts.dryRun ? undefined : { action: 'backup.run', target: names.join(','), payload: { runId: result.runId, status: result.status, snapshots: result.backups.map((b) => b.snapshotId) } },
    }),
  });
}

/** One backup run's work on its session's repositories. */
class BackupRun {
  readonly #ctx: BackupContext;
  readonly #session: RepositorySession;

  constructor(ctx: BackupContext, session: RepositorySession) {
    this.#ctx = ctx;
    this.#session = session;
  }

  /**
   * Backs one source up to every destination with one read/chunk/hash pass per group
   * of repositories that share chunker parameters (new repositories are created with
   * an existing sibling's, so normally there is one group).
   */
  async backupSource(
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
    const sourceConfig = this.#ctx.config.sources?.[source];
    let streamSource: StreamSource | undefined;
    try {
      if (!sourceConfig) throw new UsageError(`unknown source '${source}'`);
      if (sourceConfig.type !== 'files') streamSource = createStreamSource(source, sourceConfig, this.#ctx.configDir);
    } catch (err) {
      for (const d of destinations) fail(d, err);
      return out;
    }
    // A dump or a base backup is whole every time; deduplication keeps what did not change.
    const requested = streamSource ? 'full' : resolveStrategy(opts.type, sourceConfig.strategy ?? this.#ctx.config.strategy);
    const own = this.#ctx.ownFiles();
    let paths: string[] = [];
    const unreachable: { path: string; problem: string }[] = [];
    if (sourceConfig.type === 'files') {
      // Before any repository is opened or created: a source with nothing to read writes nothing.
      const checked = await checkSourcePaths(
        sourceConfig.paths.map((p) => resolve(this.#ctx.configDir, p)),
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
        opened.set(d, await this.#session.open(d, { lock }));
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
          const created = await this.#session.open(d, { create: true, inBackground: true, chunker: template, lock });
          opened.set(d, created);
          template ??= created?.config.chunker;
        } catch (err) {
          opened.delete(d);
          fail(d, err);
        }
      }
    }

    if (opts.dryRun) {
      const estimate = sourceConfig.type === 'files' ? await estimateFilesSource(paths, sourceConfig.exclude ?? [], opts.signal, own) : { files: 1, bytes: 0 };
      for (const [d, repo] of opened) {
        const parent = repo && requested !== 'full' ? await findParent(repo, source, requested) : undefined;
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
            const estimate = opts.estimate ? estimateFilesSourceLater(paths, sourceConfig.exclude ?? [], (e) => onEvent({ type: 'estimate', source, ...e }), opts.signal, undefined, own) : undefined;
            let dirCache: DirCache | undefined;
            try {
              dirCache = await openDirCache(this.#ctx.catalog.path, source, fanOut, {
                paths,
                exclude: sourceConfig.exclude ?? [],
                own: own.paths,
                oneFileSystem: sourceConfig.oneFileSystem ?? false,
                withAtime: sourceConfig.withAtime ?? false,
              });
              const archived = await archiveFiles({
                repo: fanOut,
                paths,
                exclude: sourceConfig.exclude ?? [],
                own,
                oneFileSystem: sourceConfig.oneFileSystem ?? false,
                withAtime: sourceConfig.withAtime ?? false,
                parentTree: onProgress.parentTree,
                dirCache,
                readBackCachedTrees: this.#ctx.config.verification.enabled,
                signal: opts.signal,
                onProgress: onProgress.progress,
                onWarning: onProgress.warning,
              });
              // Every path went away between the check and the walk: still nothing to back up, and no snapshot.
              if (archived.files + archived.dirs === 0) throw new OperationError(`source ${source}: none of its paths could be read (${paths.join(', ')}); nothing was written`);
              return { paths, archived, dirCache, ...(unreachable.length > 0 ? { missingPaths: unreachable.map((u) => u.path) } : {}) };
            } catch (err) {
              // What the walk kept is for no run now (a saved cache was saved by its snapshot's run).
              dirCache?.discard();
              throw err;
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
    }) => Promise<{ paths: string[]; archived: ArchiveResult; meta?: Record<string, unknown> | undefined; missingPaths?: string[]; dirCache?: DirCache | undefined }>,
  ): Promise<{ backups: BackupOutcome[]; failed: FanOutMember[] }> {
    const started = new Date();
    const names = fanOut.members.map((m) => m.destination.name).join(', ');
    const parent = requested !== 'full' ? await findParent(fanOut.primary, source, requested) : undefined;
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
    let dirCache: DirCache | undefined;
    try {
      ({ archived, paths, meta, missingPaths, dirCache } = await archive({
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
    try {
      // Destinations that dropped out mid-run: what they had stored is indexed for the next run, or deleted.
      await Promise.all(fanOut.members.filter((m) => m.error !== undefined).map((m) => settleFailedMember(m)));

      const backups: BackupOutcome[] = [];
      const { tree, warnings: _warnings, reusedTrees, writtenTrees, ...counts } = archived;
      for (const m of fanOut.members) {
        if (m.error !== undefined) continue;
        let saved = false;
        try {
          const flushed = await m.repo.flush();
          const ownParent = m.repo === fanOut.primary ? parent : requested !== 'full' ? await findParent(m.repo, source, requested) : undefined;
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
          cacheBackup(this.#ctx.catalog, m.destination, m.repo, await m.repo.loadSnapshot(snapshotId), runId);
          log('info', `${source} → ${m.destination.name}: snapshot ${snapshotId.slice(0, 8)} (${summary.files} files, ${summary.addedBytes} bytes added)`);
          onEvent({ type: 'done', source, destination: m.destination.name, snapshotId });
          backups.push({
            source,
            destination: m.destination.name,
            snapshotId,
            strategy: opts.continuous ? 'continuous' : strategy,
            parent: ownParent?.id,
            durationMs: ended.getTime() - started.getTime(),
            summary,
            warnings,
          });
          // Only the repository the walk read the parent's trees from saw them decode, and its index their content.
          const verified = await this.#verifyNewBackup(m.repo, snapshotId, { signal: opts.signal, ...(m.repo === walked ? { reusedTrees, writtenTrees } : {}) });
          if (verified?.damage) {
            log('error', `${source} → ${m.destination.name}: ${verified.damage}`);
            m.error = new IntegrityError(verified.damage);
          } else if (verified) log('info', `${source} → ${m.destination.name}: snapshot ${snapshotId.slice(0, 8)} verified (${verified.checked})`);
          // Its trees are the next run's to take whole: only once the snapshot holding them is written, and found whole.
          if (!verified?.damage && dirCache && m.repo === walked) await saveDirCache(dirCache, m.repo, log);
        } catch (err) {
          m.error = err;
          if (!saved) await settleFailedMember(m);
        }
      }
      return { backups, failed: fanOut.members.filter((m) => m.error !== undefined) };
    } finally {
      // Saved above, or not to be: a snapshot that failed its check, or a run with no member left.
      dirCache?.discard();
    }
  }

  /**
   * What the config's `verification` asks after each backup: a structure check of the
   * new backup (enabled, the default) and a scratch restore (testRestore). Returns a
   * one-line description of any damage.
   */
  async #verifyNewBackup(repo: Repository, snapshotId: string, check: StructureCheckOptions): Promise<{ checked: string; damage?: string } | undefined> {
    const settings = this.#ctx.config.verification;
    if (!settings.enabled) return undefined;
    const { signal } = check;
    const snapshot = await repo.loadSnapshot(snapshotId);
    const problems = await checkSnapshotStructure(repo, snapshot, check);
    if (problems.length > 0) return { checked: 'structure', damage: `verification after backup ${snapshotId.slice(0, 8)} found damage: ${problems.slice(0, 3).join('; ')}` };
    if (!settings.testRestore) return { checked: 'structure' };
    const restored = await testRestore(repo, snapshot, signal);
    const checked = `structure; test restore of ${restored.files} files in ${restored.durationMs} ms`;
    if (restored.error) return { checked, damage: `test restore of backup ${snapshotId.slice(0, 8)} failed: ${restored.error}` };
    if (restored.mismatches.length > 0)
      return { checked, damage: `test restore of backup ${snapshotId.slice(0, 8)}: ${restored.mismatches.length} files differ (${restored.mismatches.slice(0, 3).join(', ')})` };
    return { checked };
  }
}

/**
 * Runs `work` (blocking catalog writes) once the destinations' repositories are opening
 * and the first key derivation is under way, or once every open has settled (open, absent
 * or failed): the run's row is the catalog's first write, and when the disk holds
 * unwritten data its fsync (of the new WAL's header) held this thread 70-80 ms before the
 * key derivation even began. The opens are the ones the run's sources take from the session;
 * their failures are theirs to report. They run side by side, where the sources opened
 * one destination after another: N scrypts at once, 32 MiB each, for a moment.
 */
async function besideKeyDerivation(session: RepositorySession, destinations: Destination[], lock: { mode: LockMode; operation: string }): Promise<void> {
  let underWay!: () => void;
  const deriving = new Promise<void>((resolve) => (underWay = resolve));
  const opens = destinations.map((d) =>
    session.open(d, { lock, onKeyDerivation: underWay }).then(
      () => undefined,
      () => undefined,
    ),
  );
  await Promise.race([deriving, Promise.all(opens)]);
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
  if (s !== 'full' && s !== 'incremental' && s !== 'differential') throw new UsageError(`backup type ${s}: must be full, incremental or differential`);
  return s;
}
