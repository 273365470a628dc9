import { ByteSlabs } from '../core/byte-slabs.js';
import { resized } from '../core/typed-arrays.js';
import type { TreeNode } from '../repo/tree-node.js';
import type { NodeMetadata } from '../sources/files/restore-node.js';
import { timespec } from '../sources/files/timespec.js';

/** One planned file, read out of PlannedFiles: built when asked for, not held by the plan. */
export interface PlannedFile extends NodeMetadata {
  path: Buffer;
  /** The length of its content (its blobs' plaintext), which is what is written, whatever its node records. */
  size: number;
  sparse: boolean;
  /** Its blobs in content order: `blobCount` entries of the plan's `blobs`, from `firstBlob`. */
  firstBlob: number;
  blobCount: number;
  /** A one-blob file is created when its blob is written: one open instead of two. */
  createOnWrite: boolean;
  force: boolean;
}

const NS = 1_000_000_000n;
const SPARSE = 1;
const CREATE_ON_WRITE = 2;
const FORCE = 4;
/** Its mode, owner and times were applied as it was written. */
const METADATA_APPLIED = 8;

/** Path bytes are kept in slabs of this size (a longer path gets a slab of its own). */
const SLAB_BYTES = 1024 * 1024;
const FIRST_CAPACITY = 1024;

/**
 * The files a restore will write, a column per field: typed arrays, and their paths' bytes
 * side by side in slabs. A restore holds every file it plans until the end, and as one
 * object each (a path Buffer, two BigInts) they took ~370 bytes a file: 74 MiB of heap for
 * 200 000 files, most of a small-file restore's peak. Here a file takes 77 bytes of columns and its path's.
 * A file is its number, in plan order.
 */
export class PlannedFiles {
  #length = 0;
  #capacity = 0;
  #slabs: Buffer[] = [];
  #slabUsed = SLAB_BYTES;
  #pathSlab = new Uint32Array(0);
  #pathStart = new Uint32Array(0);
  #pathLength = new Uint32Array(0);
  #size = new Float64Array(0);
  #firstBlob = new Uint32Array(0);
  #blobCount = new Uint32Array(0);
  /** Integers the plan checked (planRestore): a mode of up to 0o7777, owners of up to 2^32 - 1. */
  #mode = new Float64Array(0);
  #uid = new Float64Array(0);
  #gid = new Float64Array(0);
  /** Times as futimens takes them (seconds, and nanoseconds 0 ≤ ns < 10^9): no BigInt per file as it is written. */
  #atimeS = new Float64Array(0);
  #atimeNs = new Uint32Array(0);
  #mtimeS = new Float64Array(0);
  #mtimeNs = new Uint32Array(0);
  #flags = new Uint8Array(0);
  /** Only files that have extended attributes: most have none. */
  readonly #xattrs = new Map<number, Record<string, Buffer>>();
  /** Their values, copied: a tree's are slices of Buffer's pools, which every file's kept (SELinux labels) would keep alive. */
  readonly #xattrBytes = new ByteSlabs();
  /** Only files with a time of over 2^53 seconds either way (a crafted tree), which a double would round. */
  readonly #wideTimes = new Map<number, { atimeNs: bigint; mtimeNs: bigint }>();

  get length(): number {
    return this.#length;
  }

  /** Plans a file: its path in the target, what its node says, and its content's blobs. Returns its number. */
  add(path: Buffer, node: TreeNode, size: number, firstBlob: number, blobCount: number, force: boolean): number {
    if (this.#length === this.#capacity) this.#grow();
    const i = this.#length++;
    this.#storePath(i, path);
    const sparse = node.sparse === true;
    this.#size[i] = size;
    this.#firstBlob[i] = firstBlob;
    this.#blobCount[i] = blobCount;
    this.#mode[i] = node.mode;
    this.#uid[i] = node.uid;
    this.#gid[i] = node.gid;
    const [atimeS, atimeNs] = timespec(node.atimeNs);
    const [mtimeS, mtimeNs] = timespec(node.mtimeNs);
    if (Number.isSafeInteger(atimeS) && Number.isSafeInteger(mtimeS)) {
      this.#atimeS[i] = atimeS;
      this.#atimeNs[i] = atimeNs;
      this.#mtimeS[i] = mtimeS;
      this.#mtimeNs[i] = mtimeNs;
    } else this.#wideTimes.set(i, { atimeNs: node.atimeNs, mtimeNs: node.mtimeNs });
    this.#flags[i] = (sparse ? SPARSE : 0) | (blobCount === 1 && !sparse ? CREATE_ON_WRITE : 0) | (force ? FORCE : 0);
    if (node.xattrs !== undefined) this.#xattrs.set(i, this.#xattrBytes.copyValues(node.xattrs));
    return i;
  }

  /** A view of the file's path bytes (a new Buffer object each call, over the same memory). */
  path(i: number): Buffer {
    const start = this.#pathStart[i]!;
    return this.#slabs[this.#pathSlab[i]!]!.subarray(start, start + this.#pathLength[i]!);
  }

  size(i: number): number {
    return this.#size[i]!;
  }

  firstBlob(i: number): number {
    return this.#firstBlob[i]!;
  }

  blobCount(i: number): number {
    return this.#blobCount[i]!;
  }

  sparse(i: number): boolean {
    return (this.#flags[i]! & SPARSE) !== 0;
  }

  createOnWrite(i: number): boolean {
    return (this.#flags[i]! & CREATE_ON_WRITE) !== 0;
  }

  force(i: number): boolean {
    return (this.#flags[i]! & FORCE) !== 0;
  }

  hasXattrs(i: number): boolean {
    const xattrs = this.#xattrs.get(i);
    return xattrs !== undefined && Object.keys(xattrs).length > 0;
  }

  /** A time a double cannot hold to the second (a crafted tree): its metadata goes by path, as BigInts. */
  hasWideTimes(i: number): boolean {
    return this.#wideTimes.has(i);
  }

  metadataApplied(i: number): boolean {
    return (this.#flags[i]! & METADATA_APPLIED) !== 0;
  }

  markMetadataApplied(i: number): void {
    this.#flags[i]! |= METADATA_APPLIED;
  }

  /** What applyMetadata and writeNewFiles set on the file. */
  metadata(i: number): NodeMetadata {
    const wide = this.#wideTimes.get(i);
    return {
      type: 'file',
      mode: this.#mode[i]!,
      uid: this.#uid[i]!,
      gid: this.#gid[i]!,
      atimeNs: wide?.atimeNs ?? BigInt(this.#atimeS[i]!) * NS + BigInt(this.#atimeNs[i]!),
      mtimeNs: wide?.mtimeNs ?? BigInt(this.#mtimeS[i]!) * NS + BigInt(this.#mtimeNs[i]!),
      xattrs: this.#xattrs.get(i),
    };
  }

  /** Its mode, owner and times as FILE_META numbers (writeNewFiles) into `into` at `at`; not for a file with wide times. */
  packMetadata(i: number, into: Float64Array, at: number): void {
    into[at] = this.#mode[i]!;
    into[at + 1] = this.#uid[i]!;
    into[at + 2] = this.#gid[i]!;
    into[at + 3] = this.#atimeS[i]!;
    into[at + 4] = this.#atimeNs[i]!;
    into[at + 5] = this.#mtimeS[i]!;
    into[at + 6] = this.#mtimeNs[i]!;
  }

  /** The file as one object, for callers that look at a few (messages, tests). */
  at(i: number): PlannedFile {
    return {
      path: this.path(i),
      ...this.metadata(i),
      size: this.size(i),
      sparse: this.sparse(i),
      firstBlob: this.firstBlob(i),
      blobCount: this.blobCount(i),
      createOnWrite: this.createOnWrite(i),
      force: this.force(i),
    };
  }

  *[Symbol.iterator](): IterableIterator<PlannedFile> {
    for (let i = 0; i < this.#length; i++) yield this.at(i);
  }

  #storePath(i: number, path: Buffer): void {
    if (this.#slabUsed + path.length > (this.#slabs.at(-1)?.length ?? 0)) {
      this.#slabs.push(Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, path.length)));
      this.#slabUsed = 0;
    }
    const slab = this.#slabs.length - 1;
    path.copy(this.#slabs[slab]!, this.#slabUsed);
    this.#pathSlab[i] = slab;
    this.#pathStart[i] = this.#slabUsed;
    this.#pathLength[i] = path.length;
    this.#slabUsed += path.length;
  }

  #grow(): void {
    const capacity = Math.max(FIRST_CAPACITY, this.#capacity * 2);
    this.#pathSlab = resized(this.#pathSlab, capacity);
    this.#pathStart = resized(this.#pathStart, capacity);
    this.#pathLength = resized(this.#pathLength, capacity);
    this.#size = resized(this.#size, capacity);
    this.#firstBlob = resized(this.#firstBlob, capacity);
    this.#blobCount = resized(this.#blobCount, capacity);
    this.#mode = resized(this.#mode, capacity);
    this.#uid = resized(this.#uid, capacity);
    this.#gid = resized(this.#gid, capacity);
    this.#atimeS = resized(this.#atimeS, capacity);
    this.#atimeNs = resized(this.#atimeNs, capacity);
    this.#mtimeS = resized(this.#mtimeS, capacity);
    this.#mtimeNs = resized(this.#mtimeNs, capacity);
    this.#flags = resized(this.#flags, capacity);
    this.#capacity = capacity;
  }
}
