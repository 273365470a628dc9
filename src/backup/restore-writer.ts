import { constants as fsc } from 'node:fs';
import { closeSync, ftruncateSync, lstatSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { BufferPool } from '../repo/buffer-pool.js';
import { type BlobEntries, IndexedBlobs, type Repository } from '../repo/repository.js';
import { createSparseWriter } from '../sources/files/restore-node.js';
import { FILE_META, writeNewFiles } from '../sources/files/write-files.js';
import type { RestoreOptions } from './restorer.js';
import { checkAborted } from './restore-plan.js';
import type { PlannedFiles } from './planned-files.js';
import type { RestorePlan } from './restore-plan.js';

/**
 * Free read and decode buffers kept for reuse: what the packs in flight hold at once
 * (a span, its decoded blobs, a batch of new files waiting to be written, per pack).
 */
const REUSED_BUFFER_BYTES = 48 * 1024 * 1024;
/**
 * A lease takes a free buffer of up to four times its size when none of its own size is
 * free. Large blobs come in every size class from 256 KiB to 8 MiB, and each class kept
 * its own buffers: a restore of the bench's mixed set made 45-54 MiB of buffers for
 * 24-28 MiB in use at most, and 36-38 MiB with this. Its peak RSS fell from 136 to 127 MiB
 * (medians of seven alternating runs), a 4 GiB file's from 110 to 104-105, as fast; the
 * real tree's stayed the same.
 */
const BORROW_UP_TO = 4;

/**
 * Packs fetched at the same time. Each one's blobs are decoded, then written, one step
 * after the other, so two left a core idle a quarter of the time: three restored the
 * bench's mixed set 4-12 % faster (tmpfs, a new ext4) for ~20 MiB more; four no faster.
 */
const PACK_CONCURRENCY = 3;
const NEW_FILES_PER_BATCH = 64;
/**
 * A batch holds its files' decoded blobs, and with them the buffers they were decoded
 * into, until it is written: at 4 MiB, three workers' batches held a third of the
 * buffers of a restore of the bench's real tree.
 */
const NEW_FILE_BATCH_BYTES = 2 * 1024 * 1024;
/**
 * Where the blobs of one pack go: parallel arrays, one slot per use of a blob (a file, and
 * the offset in it). Objects per use and a map per pack, built for every file before the
 * first write, held the main thread 70 ms for 20 000 files, most of it collecting them.
 */
class PackTargets {
  /** File numbers (PlannedFiles). */
  readonly files: number[] = [];
  readonly offsets: number[] = [];
  /** Index entry numbers. */
  readonly blobs: number[] = [];

  add(file: number, offset: number, blob: number): void {
    this.files.push(file);
    this.offsets.push(offset);
    this.blobs.push(blob);
  }

  /**
   * The pack's blobs to read, each once and in pack order (index entry numbers), and the
   * uses of each: `uses[starts[k]]` to `uses[starts[k + 1]]` are slots of `order[k]`. Built
   * when its pack's turn comes, so the work is spread over the writing. Numbers only: an
   * object and an id string per blob lived as long as their pack was read, and a restore
   * of small files moved tens of MiB of them to the old generation.
   */
  group(index: BlobEntries): { order: Uint32Array; starts: Uint32Array; uses: Uint32Array } {
    const entries = this.blobs;
    const uses = new Uint32Array(entries.length);
    for (let i = 0; i < uses.length; i++) uses[i] = i;
    // Entries break ties: two blobs at one place (a damaged index) stay two, each checked against its own id.
    // An entry has one place, so a blob's uses sort together.
    uses.sort((a, b) => index.offsetAt(entries[a]!) - index.offsetAt(entries[b]!) || entries[a]! - entries[b]!);
    const order = new Uint32Array(uses.length);
    const starts = new Uint32Array(uses.length + 1);
    let count = 0;
    for (let k = 0, previous = -1; k < uses.length; k++) {
      const entry = entries[uses[k]!]!;
      if (entry === previous) continue;
      previous = entry;
      order[count] = entry;
      starts[count++] = k;
    }
    starts[count] = uses.length;
    return { order: order.subarray(0, count), starts: starts.subarray(0, count + 1), uses };
  }
}

/** Fetches every pack once and writes each of its blobs wherever the snapshot uses it. */
export async function writeContent(repo: Repository, plan: RestorePlan, opts: RestoreOptions, owner: boolean, onBytes: (n: number) => void): Promise<void> {
  const index = repo.blobEntries;
  const byPack = new Map<number, PackTargets>();
  const { files } = plan;
  for (let file = 0; file < files.length; file++) {
    let offset = 0;
    const end = files.firstBlob(file) + files.blobCount(file);
    for (let b = files.firstBlob(file); b < end; b++) {
      const blob = plan.blobs.at(b);
      const packNo = index.packNumberAt(blob);
      let targets = byPack.get(packNo);
      if (!targets) byPack.set(packNo, (targets = new PackTargets()));
      targets.add(file, offset, blob);
      offset += index.rawLengthAt(blob);
    }
  }
  const packs = [...byPack.values()];
  const buffers = new BufferPool(REUSED_BUFFER_BYTES, { borrowUpTo: BORROW_UP_TO });
  let next = 0;
  const worker = async () => {
    while (next < packs.length) {
      const targets = packs[next++]!;
      const { order, starts, uses } = targets.group(index);
      const newFiles = new NewFileBatch(files, owner);
      // Each use of a blob: into the batch of new files, or written where it goes.
      const writeUses = async (first: number, end: number, data: Buffer, written: () => void) => {
        for (let k = first; k < end; k++) {
          const use = uses[k]!;
          const file = targets.files[use]!;
          if (newFiles.accepts(file)) await newFiles.add(file, data, written);
          else {
            await writeAt(files, file, data, targets.offsets[use]!);
            written();
          }
          onBytes(data.length);
        }
      };
      const onBlob = (k: number, data: Buffer, release: () => void): Promise<void> | undefined => {
        checkAborted(opts.signal);
        const first = starts[k]!;
        const end = starts[k + 1]!;
        const file = targets.files[uses[first]!]!;
        // Most blobs go into one new small file: into the batch, without a promise unless it is written now.
        if (end - first === 1 && newFiles.accepts(file)) {
          const flushing = newFiles.add(file, data, release);
          if (!flushing) return void onBytes(data.length);
          return flushing.then(() => onBytes(data.length));
        }
        // The blob's buffer is reused once every file it goes into has been written.
        let writing = end - first;
        return writeUses(first, end, data, () => {
          if (--writing === 0) release();
        });
      };
      try {
        await repo.readPack(index.packIdAt(order[0]!), new IndexedBlobs(index, order), onBlob, buffers);
        await newFiles.flush();
      } catch (err) {
        // What was read intact before the failure is still written; the failure is what the user hears of.
        await newFiles.flush().catch(() => undefined);
        throw err;
      }
    }
  };
  // Settled, not all: when one worker fails, the others must finish their batches before the failure is reported.
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(PACK_CONCURRENCY, packs.length) }, worker));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * One-blob files that are new in the target, created with their content in batches on
 * the pool: one by one, creating 20 000 small files held the main thread for seconds.
 * A --force restore (which may first have to remove what stands there) and sparse files
 * take the one-by-one path.
 */
class NewFileBatch {
  #paths: Buffer[] = [];
  #data: Buffer[] = [];
  /** FILE_META numbers per file, filled from the plan's columns: no object per file. Reused: writeFiles copies it as it is called. */
  readonly #metadata = new Float64Array(NEW_FILES_PER_BATCH * FILE_META);
  #written: (() => void)[] = [];
  #bytes = 0;

  constructor(
    readonly planned: PlannedFiles,
    readonly owner: boolean,
  ) {}

  accepts(file: number): boolean {
    const planned = this.planned;
    return planned.createOnWrite(file) && !planned.force(file) && !planned.sparse(file) && !planned.hasXattrs(file) && !planned.hasWideTimes(file);
  }

  /**
   * The file is complete when the batch is written (its metadata is set there too); `written`
   * is called then. Returns the batch's write when this file filled it.
   */
  add(file: number, data: Buffer, written: () => void): Promise<void> | undefined {
    this.planned.packMetadata(file, this.#metadata, this.#paths.length * FILE_META);
    this.#paths.push(this.planned.path(file));
    this.#data.push(data);
    this.#written.push(written);
    this.planned.markMetadataApplied(file);
    this.#bytes += data.length;
    return this.#paths.length >= NEW_FILES_PER_BATCH || this.#bytes >= NEW_FILE_BATCH_BYTES ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    const paths = this.#paths;
    const data = this.#data;
    const metadata = this.#metadata.subarray(0, paths.length * FILE_META);
    const written = this.#written;
    this.#paths = [];
    this.#data = [];
    this.#written = [];
    this.#bytes = 0;
    const failed = (await writeNewFiles(paths, data, metadata, { owner: this.owner })).find((f) => f !== undefined);
    if (failed) throw failed;
    for (const done of written) done();
  }
}

/** On the pool: a large file's blobs are most of a restore's bytes, and the main thread has other packs to hand out. */
async function writeAt(files: PlannedFiles, file: number, data: Buffer, position: number): Promise<void> {
  const path = files.path(file);
  const createOnWrite = files.createOnWrite(file);
  if (createOnWrite) replaceIfForced(path, files.force(file));
  const handle = await open(path, fsc.O_WRONLY | fsc.O_NOFOLLOW | (createOnWrite ? fsc.O_CREAT | fsc.O_EXCL : 0), 0o600);
  try {
    if (files.sparse(file)) createSparseWriter(handle.fd, files.size(file)).write(data, position);
    else {
      let written = 0;
      while (written < data.length) written += (await handle.write(data, written, data.length - written, position + written)).bytesWritten;
    }
  } finally {
    await handle.close();
  }
}

export function createEmptyFile(path: Buffer, size: number, force: boolean): void {
  replaceIfForced(path, force);
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    // The final size up front: holes of sparse files stay holes, and blobs can land in any order.
    if (size > 0) ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

export function makeDirectory(path: Buffer, force: boolean): void {
  try {
    mkdirSync(path, { mode: 0o700 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const existing = lstatSync(path);
  if (existing.isDirectory()) return;
  if (!force) throw new UsageError(`${path.toString()} exists and is not a directory`, { remedy: { option: 'force', to: 'replace it' } });
  // Never write through a symlink or over a file that stands where the snapshot has a directory.
  unlinkSync(path);
  mkdirSync(path, { mode: 0o700 });
}

/** Only a --force restore can meet existing entries: without it the target was empty. */
export function replaceIfForced(path: Buffer, force: boolean): void {
  if (!force) return;
  let existing;
  try {
    existing = lstatSync(path);
  } catch {
    return;
  }
  if (existing.isDirectory()) throw new UsageError(`${path.toString()} is a directory in the target; not replacing it with a file`);
  unlinkSync(path);
}
