import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from '../core/process-alive.js';
import { sha256 } from '../core/ids.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { ENTRY_DIGEST_BYTES } from '../sources/files/scan-dir.js';

/** What the walk learnt of one directory whose tree it can take again while its listing stays the same. */
export interface DirCacheEntry {
  /** scanDir's digest of the listing: names, symlink targets, every lstat result but the access time. */
  digest: Buffer;
  /** ExcludeRules.key of the rules the directory was walked under (the config's and every .bkdrignore above). */
  rules: string;
  /** Its tree. */
  tree: string;
  /** Its own entries as the walk counts them (its subdirectories count their own). */
  files: number;
  regularFiles: number;
  bytes: number;
  dataBlobs: number;
  /** Its subdirectories' trees, in the order the walk enters them. */
  children: string[];
  /**
   * Per node of its tree, in the tree's order, the digest its entry had (DirScan.entryDigests):
   * when the listing changed, an entry with the same digest is stored as that node was.
   */
  nodeDigests: Buffer;
}

/** Whose trees the entries name: a repository, under one source's walking configuration. */
export interface DirCacheIdentity {
  repository: string;
  /** Everything of the configuration the walk's outcome depends on (paths, excludes, bkdr's own files, owner names). */
  key: string;
}

const MAGIC = Buffer.from('bkdr-dir-cache 2\n');
const ID_BYTES = 32;
/**
 * A record's fields after its path: digest, rules, tree, then files, regularFiles, dataBlobs
 * (uint32), bytes (double), and the count of children; then the children, the count of
 * nodes (uint32) and their digests.
 */
const FIXED_BYTES = 3 * ID_BYTES + 3 * 4 + 8 + 4;

/**
 * The directory cache of a files source: per directory, the digest of its listing when a
 * backup stored its tree, and that tree. A later walk that finds the same digest, under
 * the same rules, with its parent snapshot holding that very tree, takes it as it is, and
 * only walks on into its subdirectories: it neither builds the entries' nodes nor reads
 * and decodes the parent's tree to compare them (most of a no-op backup's time). It is
 * restic's and borg's files cache, a directory at a time.
 *
 * Only a backup that completed and verified writes it (`save`); it names trees of that
 * repository and no other. It counts for nothing once an index file it knew is gone
 * (prune and repair rewrite the index: a blob its trees reach may have gone with it), and
 * a file that is damaged, or from another repository or configuration, is an empty cache.
 *
 * Entries are held as the file's records, not as objects: the loaded file whole, its
 * records decoded only when looked up, and each kept entry encoded at once. Held as
 * objects, the 5 000 directories of a million-file backup raised its peak RSS by ~10 MiB
 * (V8 lets its heap grow to a multiple of what lives in it). Kept records go to a file
 * beside the cache as they fill a chunk (`<file>.kept-<pid>-<random>`), and from there into the
 * cache when it is saved: with their nodes' digests, a million-file backup kept 16 MiB.
 */
export class DirCache {
  readonly #file: string;
  readonly #identity: DirCacheIdentity;
  readonly #loaded: LoadedRecords;
  readonly #kept = new EncodedRecords((chunk) => this.#spill(chunk));
  /** Where kept records go once a chunk is full; made at the first. */
  #spilled: { path: string; fd: number } | undefined;
  #reused = 0;
  #reusedNodes = 0;
  #unsaved: unknown;

  private constructor(file: string, identity: DirCacheIdentity, loaded: LoadedRecords) {
    this.#file = file;
    this.#identity = identity;
    this.#loaded = loaded;
  }

  /** The cache in `file`, its entries only when they are this identity's and `indexFiles` (the repository's now) holds every index file they knew. */
  static async open(file: string, identity: DirCacheIdentity, indexFiles: ReadonlySet<string>): Promise<DirCache> {
    let loaded: LoadedRecords = { body: Buffer.alloc(0), records: new Map() };
    removeStaleSideFiles(file);
    try {
      const decoded = decodeCache(await readFile(file));
      if (decoded && decoded.repository === identity.repository && decoded.key === identity.key && decoded.indexFiles.every((id) => indexFiles.has(id))) loaded = decoded.loaded;
    } catch {
      // Absent or unreadable: an empty cache, which only costs speed.
    }
    return new DirCache(file, identity, loaded);
  }

  /** The entry of directory `dir` when it names `tree`: the tree the parent snapshot has there. */
  lookup(dir: Buffer, tree: string): DirCacheEntry | undefined {
    const at = this.#loaded.records.get(dir.toString('latin1'));
    if (at === undefined) return undefined;
    const { body } = this.#loaded;
    return body.toString('hex', at + 2 * ID_BYTES, at + 3 * ID_BYTES) === tree ? decodeRecord(body, at) : undefined;
  }

  /** An entry for the next backup: the directory's tree as this one stored or took it. */
  keep(dir: Buffer, entry: DirCacheEntry): void {
    // One entry lost, the cache is not saved: the others are not kept either.
    if (this.#unsaved) return;
    try {
      this.#kept.add(dir, entry);
    } catch (err) {
      // A cache costs only speed: an entry it cannot hold fails its save (a warning), never the walk.
      this.#unsaved ??= err;
    }
  }

  /** `entry`, found by lookup, taken whole by this walk: kept as it is. */
  reuse(dir: Buffer, entry: DirCacheEntry): void {
    this.keep(dir, entry);
    this.#reused++;
  }

  /** Directories whose tree this walk took from the cache. */
  get reused(): number {
    return this.#reused;
  }

  /** In directories that changed, entries this walk stored as their nodes were, by their digests (DirCacheEntry.nodeDigests). */
  reuseNodes(count: number): void {
    this.#reusedNodes += count;
  }

  get reusedNodes(): number {
    return this.#reusedNodes;
  }

  get keptEntries(): number {
    return this.#kept.count;
  }

  /** Replaces the file with the entries kept in this walk; `indexFiles`: the repository's once its snapshot is written. */
  async save(indexFiles: Iterable<string>): Promise<void> {
    try {
      if (this.#unsaved) throw this.#unsaved;
      await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
      const header = { ...this.#identity, indexFiles: [...indexFiles] };
      // Beside the cache under a name whose leftover, if this run is killed, the next open removes (removeStaleSideFiles).
      await writeFileAtomic(this.#file, this.#fileParts(header), { mode: 0o600, temp: sideFile(this.#file, 'saving') });
    } finally {
      // Its kept records are spent.
      this.#unsaved ??= new Error('directory cache: saved already');
      this.discard();
    }
  }

  /**
   * Drops what this walk kept (its file too), for a run that saves none; the cache's own
   * file stays as it was, and it cannot be saved from now on. Never throws: a file it
   * cannot remove is removed by the next open (removeStaleSideFiles).
   */
  discard(): void {
    this.#unsaved ??= new Error('directory cache: discarded');
    const spilled = this.#spilled;
    this.#spilled = undefined;
    if (!spilled) return;
    try {
      closeSync(spilled.fd);
    } catch {
      // Closed or not, the file goes.
    }
    try {
      rmSync(spilled.path, { force: true });
    } catch {
      // Left to the next open.
    }
  }

  #spill(chunk: Buffer): void {
    if (!this.#spilled) {
      mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
      const path = sideFile(this.#file, 'kept');
      this.#spilled = { path, fd: openSync(path, 'wx+', 0o600) };
    }
    for (let at = 0; at < chunk.length;) at += writeSync(this.#spilled.fd, chunk, at);
  }

  /**
   * The file's bytes: the magic, a JSON header and the count of records (cacheHead), the
   * records spilled (read back through the descriptor that wrote them, from its start) and
   * those of the chunk not spilled yet, then the SHA-256 of all before it (a torn or damaged
   * file is ignored whole).
   */
  *#fileParts(header: CacheHeader): Generator<Buffer> {
    const hash = createHash('sha256');
    const hashed = (part: Buffer): Buffer => {
      hash.update(part);
      return part;
    };
    for (const part of cacheHead(header, this.#kept.count)) yield hashed(part);
    const spilled = this.#spilled;
    if (spilled) {
      for (let position = 0; ;) {
        const buffer = Buffer.allocUnsafe(SAVE_COPY_BYTES);
        const read = readSync(spilled.fd, buffer, 0, buffer.length, position);
        if (read === 0) break;
        position += read;
        yield hashed(buffer.subarray(0, read));
      }
    }
    yield hashed(this.#kept.tail);
    yield hash.digest();
  }
}

/** Reads of the spill file while the cache is saved. */
const SAVE_COPY_BYTES = 1024 * 1024;

/** A file of this cache's beside it: what its walk kept, or the cache being saved; named by the process and never another's. */
const sideFile = (file: string, kind: 'kept' | 'saving'): string => `${file}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;

/**
 * Side files of runs that ended without removing them (killed): their pids are gone. One
 * whose pid a later process took stays until that one is gone too.
 */
export function removeStaleSideFiles(file: string): void {
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    const side = /^(?:kept|saving)-(\d+)-[0-9a-f]+$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : '');
    const pid = Number(side?.[1]);
    if (!(pid > 0 && pid !== process.pid && !processAlive(pid))) continue;
    try {
      rmSync(join(dirname(file), name), { force: true });
    } catch {
      // Only space: tried again at the next open.
    }
  }
}

interface CacheHeader extends DirCacheIdentity {
  indexFiles: string[];
}

/** The loaded file's body, and where each directory's record starts in it (after its path). */
interface LoadedRecords {
  body: Buffer;
  records: Map<string, number>;
}

/** The records of kept entries, in the file's form, in chunks filled one after the other. */
class EncodedRecords {
  static readonly CHUNK_BYTES = 64 * 1024;
  #chunk = Buffer.alloc(0);
  #used = 0;
  count = 0;

  /** `spill`: takes each full chunk (a view of one buffer, reused once it returns). */
  constructor(readonly spill: (chunk: Buffer) => void) {}

  add(dir: Buffer, e: DirCacheEntry): void {
    if (e.digest.length !== ID_BYTES) throw new Error(`directory cache: a digest of ${e.digest.length} bytes`);
    if (e.nodeDigests.length % ENTRY_DIGEST_BYTES !== 0) throw new Error(`directory cache: node digests of ${e.nodeDigests.length} bytes`);
    const size = 4 + dir.length + FIXED_BYTES + e.children.length * ID_BYTES + 4 + e.nodeDigests.length;
    if (this.#used + size > this.#chunk.length) {
      if (this.#used > 0) this.spill(this.#chunk.subarray(0, this.#used));
      if (size > this.#chunk.length) this.#chunk = Buffer.allocUnsafeSlow(Math.max(EncodedRecords.CHUNK_BYTES, size));
      this.#used = 0;
    }
    const b = this.#chunk;
    let at = b.writeUInt32LE(dir.length, this.#used);
    at += dir.copy(b, at);
    at += e.digest.copy(b, at);
    at = writeId(b, e.rules, at);
    at = writeId(b, e.tree, at);
    at = b.writeUInt32LE(e.files, at);
    at = b.writeUInt32LE(e.regularFiles, at);
    at = b.writeUInt32LE(e.dataBlobs, at);
    at = b.writeDoubleLE(e.bytes, at);
    at = b.writeUInt32LE(e.children.length, at);
    for (const child of e.children) at = writeId(b, child, at);
    at = b.writeUInt32LE(e.nodeDigests.length / ENTRY_DIGEST_BYTES, at);
    at += e.nodeDigests.copy(b, at);
    this.#used = at;
    this.count++;
  }

  /** The records not spilled yet. */
  get tail(): Buffer {
    return this.#chunk.subarray(0, this.#used);
  }
}

function writeId(b: Buffer, id: string, at: number): number {
  if (b.write(id, at, ID_BYTES, 'hex') !== ID_BYTES || id.length !== 2 * ID_BYTES) throw new Error(`directory cache: not an id: ${id}`);
  return at + ID_BYTES;
}

/** The header, and where each record is: records are decoded when looked up. */
function decodeCache(data: Buffer): (CacheHeader & { loaded: LoadedRecords }) | undefined {
  if (data.length < MAGIC.length + ID_BYTES || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const body = data.subarray(0, data.length - ID_BYTES);
  if (!sha256(body).equals(data.subarray(body.length))) return undefined;
  let at = MAGIC.length;
  const jsonLength = body.readUInt32LE(at);
  const header = JSON.parse(body.toString('utf8', at + 4, at + 4 + jsonLength)) as CacheHeader;
  at += 4 + jsonLength;
  const count = body.readUInt32LE(at);
  at += 4;
  const records = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const nameLength = body.readUInt32LE(at);
    const path = body.toString('latin1', at + 4, at + 4 + nameLength);
    at += 4 + nameLength;
    // Read past the end, it throws: the file is then an empty cache.
    const childCount = body.readUInt32LE(at + FIXED_BYTES - 4);
    const nodeCount = body.readUInt32LE(at + FIXED_BYTES + childCount * ID_BYTES);
    records.set(path, at);
    at += FIXED_BYTES + childCount * ID_BYTES + 4 + nodeCount * ENTRY_DIGEST_BYTES;
  }
  if (at !== body.length) return undefined;
  return { ...header, loaded: { body, records } };
}

/** The entry whose record's fields start at `at` (decodeCache checked its length). */
function decodeRecord(body: Buffer, at: number): DirCacheEntry {
  const fixed = at + 3 * ID_BYTES;
  const childCount = body.readUInt32LE(fixed + 20);
  const children: string[] = new Array(childCount);
  let from = fixed + 24;
  for (let c = 0; c < childCount; c++, from += ID_BYTES) children[c] = body.toString('hex', from, from + ID_BYTES);
  const nodeCount = body.readUInt32LE(from);
  return {
    digest: body.subarray(at, at + ID_BYTES),
    rules: body.toString('hex', at + ID_BYTES, at + 2 * ID_BYTES),
    tree: body.toString('hex', at + 2 * ID_BYTES, at + 3 * ID_BYTES),
    files: body.readUInt32LE(fixed),
    regularFiles: body.readUInt32LE(fixed + 4),
    dataBlobs: body.readUInt32LE(fixed + 8),
    bytes: body.readDoubleLE(fixed + 12),
    children,
    nodeDigests: body.subarray(from + 4, from + 4 + nodeCount * ENTRY_DIGEST_BYTES),
  };
}

/** What comes before the records. */
function cacheHead(header: CacheHeader, count: number): Buffer[] {
  const json = Buffer.from(JSON.stringify(header));
  return [MAGIC, u32(json.length), json, u32(count)];
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}
