import { IntegrityError, UsageError } from '../core/errors.js';
import { blobId } from '../repo/blob-codec.js';
import type { Repository } from '../repo/repository.js';
import type { SideObjects } from '../repo/side-objects.js';
import { ObjectNotFoundError } from '../storage/adapter.js';

/** An archived WAL file, as its header records it. */
export interface WalSegmentInfo {
  name: string;
  size: number;
  sha256: string;
  pushedAt: string;
}

/** The header line of a WAL object: what was pushed, and how its payload is compressed. */
type WalHeader = WalSegmentInfo & { compression: number };

/**
 * A physical PostgreSQL source's archived WAL files (segments, .history, .backup) in a
 * repository, one side object each under `wal/<source>/<name>` (docs/repository-format.md
 * "WAL archive"): a JSON header line, a newline, then the payload compressed like a blob
 * record's, the whole sealed in the repository's envelope.
 */
export class PostgresWalStore {
  readonly #repo: Repository;
  readonly #source: string;
  readonly #objects: SideObjects;

  constructor(repo: Repository, source: string) {
    this.#repo = repo;
    this.#source = source;
    this.#objects = repo.sideObjects(`wal/${source}/`);
  }

  /**
   * Stores one WAL file. Idempotent: pushing the same content again succeeds; different
   * content under the same name is refused, as PostgreSQL's archive_command contract requires.
   */
  async put(name: string, data: Buffer): Promise<'stored' | 'already archived'> {
    if (!/^[0-9A-Za-z._-]+$/.test(name)) throw new UsageError(`'${name}' is not a WAL file name`);
    const [sha256, exists] = await Promise.all([blobId(data), this.#objects.stat(name)]);
    if (exists) {
      const existing = await this.#readHeader(name);
      if (existing.sha256 === sha256) return 'already archived';
      throw new IntegrityError(`WAL file ${name} of ${this.#source} is already archived on ${this.#repo.adapter.name} with different content`);
    }
    await this.#objects.putCompressed(name, data, (compression) => {
      const header: WalHeader = { name, size: data.length, sha256, pushedAt: new Date().toISOString(), compression };
      return Buffer.from(`${JSON.stringify(header)}\n`);
    });
    return 'stored';
  }

  /** A WAL file's content, checked against the hash recorded when it was pushed; undefined when not archived. */
  async get(name: string): Promise<Buffer | undefined> {
    const plain = await this.#objects.get(name, `WAL file ${name}`);
    if (!plain) return undefined;
    const { header, payload } = this.#split(plain, name);
    const data = await this.#objects.decompress(header.compression, payload);
    if (data.length !== header.size || (await blobId(data)) !== header.sha256) throw new IntegrityError(`WAL file ${name} of ${this.#source} on ${this.#repo.adapter.name} is damaged`);
    return data;
  }

  async delete(name: string): Promise<void> {
    await this.#objects.delete(name);
  }

  /** Every archived WAL file of the source, by name. */
  async list(): Promise<WalSegmentInfo[]> {
    const out: WalSegmentInfo[] = [];
    for await (const obj of this.#objects.list()) {
      const h = await this.#readHeader(obj.name);
      out.push({ name: h.name, size: h.size, sha256: h.sha256, pushedAt: h.pushedAt });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Named by its key in messages, as a listing finds it. */
  async #readHeader(name: string): Promise<WalHeader> {
    const key = this.#objects.prefix + name;
    const plain = await this.#objects.get(name, `WAL file ${key}`);
    // Listed or found a moment ago, gone now (a concurrent prune): said as a read of it would.
    if (!plain) throw new ObjectNotFoundError(this.#repo.adapter.name, key);
    return this.#split(plain, key).header;
  }

  /** `what`: the file's name or key, for messages. */
  #split(plain: Buffer, what: string): { header: WalHeader; payload: Buffer } {
    const newline = plain.indexOf(0x0a);
    if (newline < 0) throw new IntegrityError(`WAL file ${what} on ${this.#repo.adapter.name} is damaged`);
    return { header: JSON.parse(plain.subarray(0, newline).toString('utf8')) as WalHeader, payload: plain.subarray(newline + 1) };
  }
}
