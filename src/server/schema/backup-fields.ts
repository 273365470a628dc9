import type { BackupStatus, BackupSummary } from '../../backup/backup-manager.js';
import type { RunRecord } from '../../catalog/runs-table.js';
import { pollChanges } from './poll-changes.js';
import type { BkdrBuilder, SchemaDeps } from './schema-types.js';

type Failure = BackupStatus['recentFailures'][number];
type LastBackup = BackupStatus['lastPerSource'][number];
type DestinationStatus = BackupStatus['destinations'][number];
type Window = BackupStatus['recoverable'][number];

/** What a subscriber sees of a backup or restore run: the catalog's row, with the live counters while this server runs it. */
export interface RunProgress {
  runId: string;
  kind: string;
  status: string;
  source: string | null;
  destination: string | null;
  files: number | null;
  bytes: number | null;
  totalBytes: number | null;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export function runProgress(run: RunRecord, deps: SchemaDeps): RunProgress {
  const live = run.status === 'running' ? deps.operations.latestEvent(run.id) : undefined;
  const counters =
    live?.type === 'progress'
      ? {
          source: live.source,
          destination: live.destination,
          files: live.files,
          bytes: live.bytesRead,
          totalBytes: live.totalBytes ?? null,
          bytesPerSecond: live.bytesPerSecond ?? null,
          eta: live.etaMs,
        }
      : live?.type === 'restore-progress'
        ? {
            source: run.source,
            destination: run.destinations[0] ?? null,
            files: live.files,
            bytes: live.bytes,
            totalBytes: live.totalBytes,
            bytesPerSecond: live.bytesPerSecond ?? null,
            eta: live.etaMs,
          }
        : undefined;
  return {
    runId: run.id,
    kind: run.kind,
    status: run.status,
    source: counters?.source ?? run.source,
    destination: counters?.destination ?? run.destinations[0] ?? null,
    files: counters?.files ?? null,
    bytes: counters?.bytes ?? null,
    totalBytes: counters?.totalBytes ?? null,
    bytesPerSecond: counters?.bytesPerSecond ?? null,
    etaSeconds: counters?.eta === undefined ? null : Math.round(counters.eta / 1000),
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
  };
}

/** The backup service's part of the schema: status, backups, `createBackup`, `restore`, `backupProgress`. */
export function addBackupFields(b: BkdrBuilder, deps: SchemaDeps): void {
  const { backupManager } = deps.services;

  const RunFailure = b.objectRef<Failure>('RunFailure').implement({
    fields: (t) => ({
      runId: t.exposeString('runId'),
      kind: t.exposeString('kind'),
      status: t.exposeString('status'),
      startedAt: t.field({ type: 'DateTime', resolve: (f) => f.startedAt }),
      error: t.exposeString('error'),
    }),
  });
  const SourceLastBackup = b.objectRef<LastBackup>('SourceLastBackup').implement({
    fields: (t) => ({
      source: t.exposeString('source'),
      backupId: t.string({ nullable: true, resolve: (l) => l.backupId ?? null }),
      time: t.field({ type: 'DateTime', nullable: true, resolve: (l) => l.time ?? null }),
      destination: t.string({ nullable: true, resolve: (l) => l.destination ?? null }),
      strategy: t.string({ nullable: true, resolve: (l) => l.strategy ?? null }),
      missingPaths: t.stringList({ resolve: (l) => l.missingPaths ?? [] }),
    }),
  });
  const DestinationStatus = b.objectRef<DestinationStatus>('DestinationStatus').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      type: t.exposeString('type'),
      encrypted: t.exposeBoolean('encrypted'),
      offsite: t.exposeBoolean('offsite'),
      reachable: t.exposeBoolean('reachable'),
      backups: t.exposeInt('backups'),
      packs: t.exposeInt('packs'),
      storedBytes: t.exposeFloat('storedBytes'),
      compression: t.exposeString('compression'),
    }),
  });
  const Rule321 = b.objectRef<BackupStatus['rule321']>('Rule321').implement({
    fields: (t) => ({ copies: t.exposeInt('copies'), media: t.exposeInt('media'), offsite: t.exposeInt('offsite'), met: t.exposeBoolean('met') }),
  });
  const RecoverableWindow = b.objectRef<Window>('RecoverableWindow').implement({
    fields: (t) => ({
      source: t.exposeString('source'),
      destination: t.exposeString('destination'),
      earliest: t.field({ type: 'DateTime', resolve: (w) => w.earliest }),
      latest: t.field({ type: 'DateTime', resolve: (w) => w.latest }),
    }),
  });
  const BackupStatusRef = b.objectRef<BackupStatus>('BackupStatus').implement({
    description: 'What `bkdr backup status --json` reports, with the brief summary fields first.',
    fields: (t) => ({
      totalBackups: t.exposeInt('totalBackups'),
      recentFailures: t.int({ description: 'How many of the recent runs failed, ended partial, were interrupted or died (the runs: `failures`).', resolve: (s) => s.recentFailures.length }),
      lastBackup: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastBackup }),
      storageUsage: t.float({ description: 'Bytes stored on all destinations.', resolve: (s) => s.storageUsage }),
      failures: t.field({ type: [RunFailure], resolve: (s) => s.recentFailures }),
      lastPerSource: t.field({ type: [SourceLastBackup], resolve: (s) => s.lastPerSource }),
      destinations: t.field({ type: [DestinationStatus], resolve: (s) => s.destinations }),
      rule321: t.field({ type: Rule321, resolve: (s) => s.rule321 }),
      recoverable: t.field({ type: [RecoverableWindow], resolve: (s) => s.recoverable }),
    }),
  });
  const Backup = b.objectRef<BackupSummary>('Backup');
  Backup.implement({
    fields: (t) => ({
      id: t.exposeString('id'),
      source: t.exposeString('source'),
      destination: t.exposeString('destination'),
      strategy: t.exposeString('strategy'),
      parent: t.string({ nullable: true, resolve: (s) => s.parent ?? null }),
      parentBackup: t.field({
        type: Backup,
        nullable: true,
        description: 'The backup an incremental or differential one was compared with, on the same destination, as the catalog knows it.',
        // From the catalog alone: a chain of parents (or many aliases of it) costs no repository reads.
        resolve: (s) => (s.parent ? (backupManager.catalogedBackup(s.parent, s.destination) ?? null) : null),
      }),
      time: t.field({ type: 'DateTime', resolve: (s) => s.time }),
      hostname: t.exposeString('hostname'),
      paths: t.exposeStringList('paths'),
      tags: t.exposeStringList('tags'),
      files: t.int({ resolve: (s) => s.summary.files }),
      bytes: t.float({ resolve: (s) => s.summary.bytes }),
      addedBytes: t.float({ resolve: (s) => s.summary.addedBytes }),
      storedBytes: t.float({ resolve: (s) => s.summary.storedBytes }),
    }),
  });
  const BackupTypeEnum = b.enumType('BackupType', { values: ['full', 'incremental', 'differential'] as const });
  const PriorityEnum = b.enumType('Priority', { values: ['low', 'normal', 'high'] as const });
  const OperationStarted = b.objectRef<{ id: string; status: string }>('OperationStarted').implement({
    description: 'A long operation, recorded and running: follow it by its id (`backupProgress`, `executionProgress`).',
    fields: (t) => ({ id: t.exposeString('id'), status: t.exposeString('status') }),
  });
  const RunProgressRef = b.objectRef<RunProgress>('RunProgress').implement({
    fields: (t) => ({
      runId: t.exposeString('runId'),
      kind: t.exposeString('kind'),
      status: t.exposeString('status'),
      source: t.exposeString('source', { nullable: true }),
      destination: t.exposeString('destination', { nullable: true }),
      files: t.exposeInt('files', { nullable: true }),
      bytes: t.exposeFloat('bytes', { nullable: true }),
      totalBytes: t.exposeFloat('totalBytes', { nullable: true }),
      bytesPerSecond: t.exposeFloat('bytesPerSecond', { nullable: true }),
      etaSeconds: t.exposeInt('etaSeconds', { nullable: true }),
      startedAt: t.field({ type: 'DateTime', resolve: (p) => p.startedAt }),
      finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.finishedAt }),
      error: t.exposeString('error', { nullable: true }),
    }),
  });

  b.queryFields((t) => ({
    backupStatus: t.field({
      type: BackupStatusRef,
      resolve: async (_root, _args, ctx) => {
        await deps.guard(ctx, 'read', 'backupStatus');
        return deps.backupStatus();
      },
    }),
    backups: t.field({
      type: [Backup],
      args: { source: t.arg.string(), destination: t.arg.string(), since: t.arg.string({ description: "A time as `--since` takes it: ISO-8601 or relative ('2h ago')." }) },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'backups');
        return backupManager.listBackups({ source: args.source ?? undefined, destination: args.destination ?? undefined, since: args.since ?? undefined });
      },
    }),
    backup: t.field({
      type: Backup,
      args: { id: t.arg.string({ required: true, description: 'A backup id or a unique prefix of one.' }), destination: t.arg.string() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'backup');
        return (await backupManager.showBackup(args.id, { destination: args.destination ?? undefined })).backup;
      },
    }),
  }));

  b.mutationFields((t) => ({
    createBackup: t.field({
      type: OperationStarted,
      description: 'Starts a backup run of the named sources (all when none) and returns its run id at once.',
      args: { sources: t.arg.stringList(), type: t.arg({ type: BackupTypeEnum }), priority: t.arg({ type: PriorityEnum }), destinations: t.arg.stringList() },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'operate', 'createBackup');
        const sources = args.sources?.length ? args.sources : 'all';
        const id = await deps.operations.start((signal, onCreated, onEvent) =>
          backupManager.createBackup(
            sources,
            {
              type: args.type ?? undefined,
              priority: args.priority ?? undefined,
              destinations: args.destinations ?? undefined,
              signal,
              onCreated,
            },
            onEvent,
          ),
        );
        return { id, status: 'running' };
      },
    }),
    restore: t.field({
      type: OperationStarted,
      description: 'Starts a restore (a backup by id, or the newest of `source` at or before `at`) and returns its run id at once.',
      args: {
        backupId: t.arg.string(),
        source: t.arg.string(),
        at: t.arg.string({ description: "ISO-8601 or relative ('2h ago')" }),
        destination: t.arg.string(),
        target: t.arg.string({ required: true, description: 'The directory to write into; a non-empty one only with `force`.' }),
        include: t.arg.stringList(),
        verify: t.arg.boolean(),
        force: t.arg.boolean(),
      },
      resolve: async (_root, args, ctx) => {
        await deps.guard(ctx, 'operate', 'restore');
        const id = await deps.operations.start((signal, onCreated, onEvent) =>
          backupManager.restoreFromBackup(
            {
              backupId: args.backupId ?? undefined,
              source: args.source ?? undefined,
              at: args.at ?? undefined,
              destination: args.destination ?? undefined,
              targetLocation: args.target,
              include: args.include ?? undefined,
              verification: args.verify ?? undefined,
              force: args.force ?? undefined,
              signal,
              onCreated,
            },
            onEvent,
          ),
        );
        return { id, status: 'running' };
      },
    }),
  }));

  b.subscriptionFields((t) => ({
    backupProgress: t.field({
      type: RunProgressRef,
      description: 'A backup or restore run from now to its end: its counters while it runs here, its status from the catalog wherever it runs.',
      args: { runId: t.arg.string({ required: true }) },
      subscribe: async (_root, args, ctx) => {
        await deps.guard(ctx, 'read', 'backupProgress');
        const run = backupManager.getRun(args.runId);
        return pollChanges(
          () => runProgress(backupManager.getRun(run.id), deps),
          (p) => p.status !== 'running',
          deps.pollMs,
          deps.subscriptionsEnd,
        );
      },
      resolve: (progress: RunProgress) => progress,
    }),
  }));
}
