import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { BkdrConfig } from '../config/schema.js';
import { BkdrError, OperationError, UsageError } from '../core/errors.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { Repository } from '../repo/repository.js';
import { PostgresWalStore, type WalSegmentInfo } from '../sources/postgres-wal-store.js';
import { type Destination, openDestinations } from '../runtime/destinations.js';

/**
 * PostgreSQL's WAL archive in the repositories: `bkdr wal push %p` as archive_command
 * stores each file on every destination (a failure makes PostgreSQL retry, and pushes
 * are idempotent); `bkdr wal fetch %f %p` as restore_command reads it back from the
 * first destination that has it. Runs once per WAL file, so it reads no index and
 * takes no lock: WAL objects are written once and prune leaves them alone.
 */
export class WalArchive {
  readonly #config: BkdrConfig;
  readonly #configDir: string;
  readonly #password: () => Promise<string>;
  readonly #logger: Logger;

  constructor(opts: { config: BkdrConfig; configDir: string; password: () => Promise<string>; logger?: Logger }) {
    this.#config = opts.config;
    this.#configDir = opts.configDir;
    this.#password = opts.password;
    this.#logger = opts.logger ?? silentLogger;
  }

  /** The source the WAL belongs to: the one named, else the only physical postgres source. */
  source(name: string | undefined): string {
    const physical = Object.entries(this.#config.sources ?? {})
      .filter(([, s]) => s.type === 'postgres' && s.mode === 'physical')
      .map(([n]) => n);
    if (name) {
      if (!physical.includes(name)) throw new UsageError(`source ${name} is not a postgres source in physical mode${physical.length > 0 ? ` (physical: ${physical.join(', ')})` : ''}`);
      return name;
    }
    if (physical.length === 1) return physical[0]!;
    if (physical.length === 0) throw new UsageError('no postgres source in physical mode in the config');
    throw new UsageError(`several physical postgres sources (${physical.join(', ')}):`, { remedy: { option: 'source' } });
  }

  async push(source: string, path: string): Promise<{ destination: string; result: string }[]> {
    const data = await readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read WAL file ${path}: ${err.code ?? err.message}`, { cause: err });
    });
    const session = await this.openPush(source);
    try {
      return await session.put(basename(path), data);
    } finally {
      await session.close();
    }
  }

  /**
   * The repositories of every destination, opened once (and created where missing) for many
   * pushes: the asynchronous worker's, where opening them per file was most of the cost.
   */
  async openPush(source: string): Promise<WalPushSession> {
    const stores: { destination: string; store: PostgresWalStore; repo: Repository }[] = [];
    try {
      for (const d of await this.#destinations()) {
        const repo = await this.#open(d, true);
        stores.push({ destination: d.name, repo, store: new PostgresWalStore(repo, source) });
      }
    } catch (err) {
      await Promise.allSettled(stores.map((s) => s.repo.close()));
      throw err;
    }
    return {
      put: async (name, data) => {
        const results: { destination: string; result: string }[] = [];
        for (const s of stores) results.push({ destination: s.destination, result: await s.store.put(name, data) });
        return results;
      },
      close: async () => {
        await Promise.allSettled(stores.map((s) => s.repo.close()));
      },
    };
  }

  /** Writes the WAL file `name` to `target` (temp name, then rename); false when no destination has it. */
  async fetch(source: string, name: string, target: string): Promise<string | false> {
    const session = await this.openFetch(source);
    try {
      const found = await session.get(name);
      if (!found) return false;
      await writeFileAtomic(target, found.data, { mode: 0o600 });
      return found.destination;
    } finally {
      await session.close();
    }
  }

  /**
   * Reads from the destinations in their order, each repository opened once on first use:
   * a file comes from the first that has it, an unreachable or damaged one passes to the next.
   */
  async openFetch(source: string): Promise<WalFetchSession> {
    const destinations = await this.#destinations();
    const opened = new Map<string, Promise<Repository | undefined>>();
    const repoOf = (d: Destination) => {
      let repo = opened.get(d.name);
      if (!repo) {
        repo = this.#open(d, false);
        // A failed open is tried again on the next file, not remembered.
        repo.catch(() => opened.delete(d.name));
        opened.set(d.name, repo);
      }
      return repo;
    };
    return {
      get: async (name) => {
        let lastError: unknown;
        for (const d of destinations) {
          try {
            const repo = await repoOf(d);
            if (!repo) continue;
            const data = await new PostgresWalStore(repo, source).get(name);
            if (data) return { destination: d.name, data };
          } catch (err) {
            // Unreachable or damaged here: the next destination may have a good copy.
            lastError = err;
            this.#logger.warn(`wal fetch ${name}: destination ${d.name}: ${(err as Error).message}`);
          }
        }
        if (lastError instanceof BkdrError) throw lastError;
        if (lastError) throw new OperationError(`wal fetch ${name}: ${(lastError as Error).message}`);
        return undefined;
      },
      close: async () => {
        await Promise.allSettled([...opened.values()].map(async (r) => (await r.catch(() => undefined))?.close()));
      },
    };
  }

  /** The archived WAL files of a source on the highest-priority destination that holds any. */
  async list(source: string): Promise<{ destination: string; files: WalSegmentInfo[] } | undefined> {
    for (const d of await this.#destinations()) {
      const repo = await this.#open(d, false).catch(() => undefined);
      if (!repo) continue;
      try {
        const files = await new PostgresWalStore(repo, source).list();
        if (files.length > 0) return { destination: d.name, files };
      } finally {
        await repo.close();
      }
    }
    return undefined;
  }

  #destinations(): Promise<Destination[]> {
    return openDestinations(this.#config, this.#configDir, undefined, this.#logger);
  }

  async #open(d: Destination, create: true): Promise<Repository>;
  async #open(d: Destination, create: false): Promise<Repository | undefined>;
  async #open(d: Destination, create: boolean): Promise<Repository | undefined> {
    const password = d.encrypted ? await this.#password() : null;
    const opts = { password, compression: d.compression, skipIndex: true };
    if (await Repository.exists(d.adapter)) return Repository.open(d.adapter, opts);
    // A cluster may archive WAL before its first base backup: the repository starts here then.
    return create ? (await Repository.openOrCreate(d.adapter, opts)).repo : undefined;
  }
}

export interface WalPushSession {
  /** Stores the file on every destination, in order; each result says stored or already archived. */
  put(name: string, data: Buffer): Promise<{ destination: string; result: string }[]>;
  close(): Promise<void>;
}

export interface WalFetchSession {
  /** The file, checked against its hash, from the first destination that has it; undefined when none has. */
  get(name: string): Promise<{ destination: string; data: Buffer } | undefined>;
  close(): Promise<void>;
}

/** Segment names: timeline, then the segment number in two 8-hex-digit halves (16 MiB segments: 256 per "log"). */
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/** Gaps in the archived sequence, per timeline: the segments missing between the first and the last. */
export function findWalGaps(files: readonly { name: string }[], segmentsPerLog = 256): { timeline: string; from: string; to: string }[] {
  const byTimeline = new Map<string, number[]>();
  for (const f of files) {
    const m = SEGMENT.exec(f.name);
    if (!m) continue;
    const n = parseInt(m[2]!, 16) * segmentsPerLog + parseInt(m[3]!, 16);
    byTimeline.set(m[1]!, [...(byTimeline.get(m[1]!) ?? []), n]);
  }
  const name = (tl: string, n: number) =>
    `${tl}${Math.floor(n / segmentsPerLog)
      .toString(16)
      .toUpperCase()
      .padStart(8, '0')}${(n % segmentsPerLog).toString(16).toUpperCase().padStart(8, '0')}`;
  const gaps: { timeline: string; from: string; to: string }[] = [];
  for (const [tl, numbers] of byTimeline) {
    const sorted = [...new Set(numbers)].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]! > sorted[i - 1]! + 1) gaps.push({ timeline: tl, from: name(tl, sorted[i - 1]! + 1), to: name(tl, sorted[i]! - 1) });
  }
  return gaps;
}
