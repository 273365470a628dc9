import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sha256 } from '../core/ids.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';

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
}

/** Whose trees the entries name: a repository, under one source's walking configuration. */
export interface DirCacheIdentity {
  repository: string;
  /** Everything of the configuration the walk's outcome depends on (paths, excludes, bkdr's own files, owner names). */
  key: string;
}

const MAGIC = Buffer.from('bkdr-dir-cache 1\n');
const ID_BYTES = 32;

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
 */
export class DirCache {
  readonly #file: string;
  readonly #identity: DirCacheIdentity;
  readonly #loaded: Map<string, DirCacheEntry>;
  readonly #kept = new Map<string, DirCacheEntry>();
  #reused = 0;

  private constructor(file: string, identity: DirCacheIdentity, loaded: Map<string, DirCacheEntry>) {
    this.#file = file;
    this.#identity = identity;
    this.#loaded = loaded;
  }

  /** The cache in `file`, its entries only when they are this identity's and `indexFiles` (the repository's now) holds every index file they knew. */
  static async open(file: string, identity: DirCacheIdentity, indexFiles: ReadonlySet<string>): Promise<DirCache> {
    let loaded = new Map<string, DirCacheEntry>();
    try {
      const decoded = decodeCache(await readFile(file));
      if (decoded && decoded.repository === identity.repository && decoded.key === identity.key && decoded.indexFiles.every((id) => indexFiles.has(id))) loaded = decoded.entries;
    } catch {
      // Absent or unreadable: an empty cache, which only costs speed.
    }
    return new DirCache(file, identity, loaded);
  }

  /** The entry of directory `dir` when it names `tree`: the tree the parent snapshot has there. */
  lookup(dir: Buffer, tree: string): DirCacheEntry | undefined {
    const entry = this.#loaded.get(dir.toString('latin1'));
    return entry?.tree === tree ? entry : undefined;
  }

  /** An entry for the next backup: the directory's tree as this one stored or took it. */
  keep(dir: Buffer, entry: DirCacheEntry): void {
    this.#kept.set(dir.toString('latin1'), entry);
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

  get keptEntries(): number {
    return this.#kept.size;
  }

  /** Replaces the file with the entries kept in this walk; `indexFiles`: the repository's once its snapshot is written. */
  async save(indexFiles: Iterable<string>): Promise<void> {
    await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.#file, encodeCache({ ...this.#identity, indexFiles: [...indexFiles] }, this.#kept), { mode: 0o600 });
  }
}

interface CacheHeader extends DirCacheIdentity {
  indexFiles: string[];
}

/** The magic, a JSON header, the entries, then the SHA-256 of all before it (a torn or damaged file is ignored whole). */
function encodeCache(header: CacheHeader, entries: ReadonlyMap<string, DirCacheEntry>): Buffer {
  const parts: Buffer[] = [MAGIC];
  const json = Buffer.from(JSON.stringify(header));
  parts.push(u32(json.length), json, u32(entries.size));
  for (const [path, e] of entries) {
    const name = Buffer.from(path, 'latin1');
    const fixed = Buffer.alloc(4 + 3 * ID_BYTES + 4 * 4 + 8);
    let at = fixed.writeUInt32LE(name.length, 0);
    at += e.digest.copy(fixed, at);
    at += fixed.write(e.rules, at, 'hex');
    at += fixed.write(e.tree, at, 'hex');
    at = fixed.writeUInt32LE(e.files, at);
    at = fixed.writeUInt32LE(e.regularFiles, at);
    at = fixed.writeUInt32LE(e.dataBlobs, at);
    at = fixed.writeDoubleLE(e.bytes, at);
    fixed.writeUInt32LE(e.children.length, at);
    parts.push(fixed.subarray(0, 4), name, fixed.subarray(4), Buffer.from(e.children.join(''), 'hex'));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, sha256(body)]);
}

function decodeCache(data: Buffer): (CacheHeader & { entries: Map<string, DirCacheEntry> }) | undefined {
  if (data.length < MAGIC.length + ID_BYTES || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const body = data.subarray(0, data.length - ID_BYTES);
  if (!sha256(body).equals(data.subarray(body.length))) return undefined;
  let at = MAGIC.length;
  const jsonLength = body.readUInt32LE(at);
  const header = JSON.parse(body.toString('utf8', at + 4, at + 4 + jsonLength)) as CacheHeader;
  at += 4 + jsonLength;
  const count = body.readUInt32LE(at);
  at += 4;
  const entries = new Map<string, DirCacheEntry>();
  for (let i = 0; i < count; i++) {
    const nameLength = body.readUInt32LE(at);
    const path = body.toString('latin1', at + 4, at + 4 + nameLength);
    at += 4 + nameLength;
    const digest = Buffer.from(body.subarray(at, at + ID_BYTES));
    const rules = body.toString('hex', at + ID_BYTES, at + 2 * ID_BYTES);
    const tree = body.toString('hex', at + 2 * ID_BYTES, at + 3 * ID_BYTES);
    at += 3 * ID_BYTES;
    const files = body.readUInt32LE(at);
    const regularFiles = body.readUInt32LE(at + 4);
    const dataBlobs = body.readUInt32LE(at + 8);
    const bytes = body.readDoubleLE(at + 12);
    const childCount = body.readUInt32LE(at + 20);
    at += 24;
    const children: string[] = new Array(childCount);
    for (let c = 0; c < childCount; c++, at += ID_BYTES) children[c] = body.toString('hex', at, at + ID_BYTES);
    entries.set(path, { digest, rules, tree, files, regularFiles, bytes, dataBlobs, children });
  }
  if (at !== body.length) return undefined;
  return { ...header, entries };
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}
