import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { closeSync, ftruncateSync, linkSync, lstatSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import picomatch from 'picomatch';
import { IntegrityError, InterruptedError, OperationError, UsageError } from '../core/errors.js';
import { BufferPool } from '../repo/buffer-pool.js';
import type { BlobEntries, BlobLocation, Repository } from '../repo/repository.js';
import { deserializeTree } from '../repo/tree.js';
import type { TreeNode } from '../repo/tree-node.js';
import { treesInOrder } from '../repo/trees-in-order.js';
import { applyMetadata, createSparseWriter, createSpecialNode, createSymlink, type NodeMetadata } from '../sources/files/restore-node.js';
import { type NewFile, writeNewFiles } from '../sources/files/write-files.js';

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

/**
 * A backup whose listing could write outside the target (a crafted or corrupted tree).
 * Another destination's copy of it is no safer, so restore does not fall over for it.
 */
export class UnsafeBackupError extends IntegrityError {}

export interface RestoreOptions {
  repo: Repository;
  tree: string;
  target: string;
  include?: string[] | undefined;
  force?: boolean | undefined;
  verify?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** The snapshot's id, for naming it when its tree is unsafe to restore. */
  backupId?: string | undefined;
  onProgress?: ((p: RestoreProgress) => void) | undefined;
}

export interface RestoreResult {
  target: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  specials: number;
  bytes: number;
  verified?: { files: number; mismatches: string[] };
  warnings: string[];
}

/**
 * A file to restore: what its content and metadata need of its node, and its blobs. A
 * restore holds one per file, so it is one object, and its blobs are index entry numbers
 * in the plan's `blobs` (objects per file and per blob were half of a 20 000-file plan's
 * time, most of it collecting them).
 */
interface PlannedFile extends NodeMetadata {
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
  /** Set when its mode, owner and times were applied as it was written. */
  metadataApplied: boolean;
}

interface PlannedEntry {
  path: Buffer;
  node: TreeNode;
}

/** Everything a restore will create, known before the first write. */
interface RestorePlan {
  /** Parents before their children. */
  dirs: PlannedEntry[];
  files: PlannedFile[];
  /** The files' blobs, as index entry numbers (BlobEntries). */
  blobs: EntryList;
  hardlinks: (PlannedEntry & { existing: Buffer })[];
  /** Symlinks and special files: created after every file and directory. */
  later: PlannedEntry[];
  /**
   * Files whose node records another size than their content holds: a backup written
   * before bkdr recorded the size of what it read from a file that changed meanwhile.
   * Their content is restored, and verification reports them.
   */
  sizeMismatches: { file: PlannedFile; recorded: number }[];
  warnings: string[];
}

/**
 * Packs fetched at the same time. Each one's blobs are decoded, then written, one step
 * after the other, so two left a core idle a quarter of the time: three restored the
 * bench's mixed set 4-12 % faster (tmpfs, a new ext4) for ~20 MiB more; four no faster.
 */
const PACK_CONCURRENCY = 3;
const NEW_FILES_PER_BATCH = 64;
const NEW_FILE_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Free read and decode buffers kept for reuse: what the packs in flight hold at once
 * (a span, its decoded blobs, a batch of new files waiting to be written, per pack).
 */
const REUSED_BUFFER_BYTES = 48 * 1024 * 1024;

const SLASH = Buffer.from('/');

/**
 * Restores a snapshot tree into `target`. Writes only below the target: the whole tree
 * is read and its names checked before anything is written, directories are created by
 * the restore itself (an existing symlink in their place is replaced with --force),
 * files are opened with O_NOFOLLOW and symlinks are created last, so no write goes
 * through a link.
 */
export async function restoreTree(opts: RestoreOptions): Promise<RestoreResult> {
  const { repo } = opts;
  const force = opts.force ?? false;
  const target = await checkTarget(opts.target, force);
  const plan = await planRestore(opts, Buffer.from(target));
  await mkdir(target, { recursive: true, mode: 0o700 });

  const owner = process.getuid?.() === 0;
  const result: RestoreResult = { target, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, specials: 0, bytes: 0, warnings: [...plan.warnings] };
  const { dirs, files, hardlinks, later } = plan;
  for (const { file, recorded } of plan.sizeMismatches) result.warnings.push(`${file.path.toString()}: the backup records ${recorded} bytes, its content holds ${file.size}; restored the content`);

  for (const { path } of dirs) makeDirectory(path, force);
  for (const f of files) if (!f.createOnWrite) createEmptyFile(f.path, f.size, force);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  await writeContent(repo, plan, opts, owner, (bytes) => {
    result.bytes += bytes;
    opts.onProgress?.({ files: result.files, totalFiles: files.length, bytes: result.bytes, totalBytes });
  });

  for (const f of files) {
    if (!f.metadataApplied) result.warnings.push(...applyMetadata(f.path, f, { owner }));
    result.files++;
  }
  for (const h of hardlinks) {
    replaceIfForced(h.path, force);
    linkSync(h.existing, h.path);
    result.hardlinks++;
    result.files++;
  }
  for (const { path, node } of later) {
    replaceIfForced(path, force);
    if (node.type === 'symlink') {
      createSymlink(path, node.linkTarget ?? Buffer.alloc(0));
      result.symlinks++;
    } else if (createSpecialNode(path, node)) {
      result.specials++;
    } else {
      result.warnings.push(`${path.toString()}: ${node.type} not restored${node.type === 'socket' ? '' : ' (needs root)'}`);
      continue;
    }
    result.warnings.push(...applyMetadata(path, node, { owner }));
  }
  // Directories last and deepest first: writing into a directory moves its mtime.
  for (const { path, node } of dirs.reverse()) {
    result.warnings.push(...applyMetadata(path, node, { owner }));
    result.dirs++;
  }

  if (opts.verify) result.verified = await verifyFiles(repo.blobEntries, plan);
  opts.onProgress?.({ files: result.files, totalFiles: files.length, bytes: result.bytes, totalBytes });
  return result;
}

/**
 * Reads the whole snapshot tree and decides what goes where. A snapshot is outside
 * input: a name that could leave its directory, or one listed twice (a symlink and a
 * directory of the same name would let a later write go through the link), fails the
 * restore here, while the target is still untouched.
 */
async function planRestore(opts: RestoreOptions, targetBuf: Buffer): Promise<RestorePlan> {
  const { repo } = opts;
  const force = opts.force ?? false;
  const matches = includeMatcher(opts.include);
  const backup = opts.backupId ? `backup ${opts.backupId.slice(0, 8)}` : `the backup with tree ${opts.tree.slice(0, 8)}`;
  const plan: RestorePlan = { dirs: [], files: [], blobs: new EntryList(), hardlinks: [], later: [], sizeMismatches: [], warnings: [] };
  const index = repo.blobEntries;
  const hardlinkFirst = new Map<string, Buffer>();
  const planned = new Set<string>();
  const skipped = new Map<string, PlannedEntry>();

  // A node an include glob selects below a directory the matcher passed over still needs
  // that directory made by the restore: with --force, whatever stands there may be a link.
  const planParents = (parent: Buffer) => {
    const missing: PlannedEntry[] = [];
    for (let p = parent; p.length > 0 && !planned.has(p.toString('latin1')); p = p.subarray(0, p.lastIndexOf(SLASH))) {
      const dir = skipped.get(p.toString('latin1'));
      if (dir) missing.push(dir);
    }
    for (const dir of missing.reverse()) planDir(dir);
  };
  const planDir = (dir: PlannedEntry) => {
    planned.add(dir.path.subarray(targetBuf.length).toString('latin1'));
    plan.dirs.push(dir);
  };

  /** `dir`: the directory's path in the target; its path in the snapshot is what follows `targetBuf`. */
  const visit = async (tree: Promise<TreeNode[]>, dir: Buffer): Promise<void> => {
    const parent = dir.subarray(targetBuf.length);
    const where = parent.length > 0 ? showBytes(parent) : '/';
    const nodes = await tree;
    const twice = listedTwice(nodes);
    const subtrees = treesInOrder(
      repo,
      nodes.flatMap((n) => (n.type === 'dir' && n.subtree ? [n.subtree] : [])),
      SUBTREES_AHEAD_BYTES,
      deserializeTree,
    );
    let parentsPlanned = !matches;
    for (const node of nodes) {
      checkAborted(opts.signal);
      if (!isSafeName(node.name)) throw new UnsafeBackupError(`${backup} holds an unsafe name '${showBytes(node.name)}' under ${where}: nothing was restored`);
      if (node === twice) throw new UnsafeBackupError(`${backup} lists the name '${showBytes(node.name)}' twice under ${where}: nothing was restored`);

      const entry = { path: Buffer.concat([dir, SLASH, node.name]), node };
      const wanted = matches ? matches(entry.path.toString('utf8', targetBuf.length), node.type === 'dir') : 'yes';
      if (wanted !== 'no' && !parentsPlanned) {
        planParents(parent);
        parentsPlanned = true;
      }
      if (node.type === 'dir') {
        if (wanted === 'no') skipped.set(entry.path.toString('latin1', targetBuf.length), entry);
        else planDir(entry);
        if (node.subtree) await visit(subtrees.next(), entry.path);
        continue;
      }
      if (wanted !== 'yes') continue;
      if (node.type === 'file') {
        const link = node.nlink > 1 ? `${node.dev}:${node.inode}` : undefined;
        const first = link ? hardlinkFirst.get(link) : undefined;
        if (first) {
          plan.hardlinks.push({ ...entry, existing: first });
          continue;
        }
        if (link) hardlinkFirst.set(link, entry.path);
        const firstBlob = plan.blobs.length;
        let size = 0;
        for (const id of node.content ?? []) {
          const blob = index.entryOf(id);
          if (blob < 0) throw new OperationError(`blob ${id.slice(0, 12)} of ${entry.path.subarray(targetBuf.length).toString()} is missing from the repository index`);
          plan.blobs.push(blob);
          size += index.rawLengthAt(blob);
        }
        const file = plannedFile(entry.path, node, size, firstBlob, plan.blobs.length - firstBlob, force);
        plan.files.push(file);
        if ((node.size ?? 0) !== size) plan.sizeMismatches.push({ file, recorded: node.size ?? 0 });
      } else {
        plan.later.push(entry);
      }
    }
  };
  await visit(repo.loadTree(opts.tree), targetBuf);
  // A pattern that selects nothing is most likely a mistake (a typo, a path of another
  // backup): when none selects anything, the restore fails before the target is created.
  const unmatched = matches?.unmatched() ?? [];
  if (unmatched.length > 0) {
    const which = `${unmatched.length === 1 ? 'the include pattern' : 'the include patterns'} ${unmatched.map((p) => `'${p}'`).join(', ')}`;
    if (unmatched.length === new Set(opts.include).size) throw new UsageError(`no path in ${backup} matches ${which}: nothing was restored`);
    plan.warnings.push(`no path in ${backup} matches ${which}`);
  }
  return plan;
}

/** Plaintext of subdirectory trees read ahead of the plan at most: bounds memory for directories of thousands. */
const SUBTREES_AHEAD_BYTES = 4 * 1024 * 1024;

/**
 * One literal of one shape, holding only what the restore needs of the node: for
 * 100 000 files a spread object (one hidden class each) and the whole node (name,
 * content ids, five BigInts) took 50 of the plan's 112 MiB of heap.
 */
function plannedFile(path: Buffer, node: TreeNode, size: number, firstBlob: number, blobCount: number, force: boolean): PlannedFile {
  const sparse = node.sparse === true;
  return {
    path,
    type: node.type,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    atimeNs: node.atimeNs,
    mtimeNs: node.mtimeNs,
    xattrs: node.xattrs,
    size,
    sparse,
    firstBlob,
    blobCount,
    createOnWrite: blobCount === 1 && !sparse,
    force,
    metadataApplied: false,
  };
}

/** A growing list of uint32 (index entry numbers): one typed array, not a number per slot of a JS array. */
class EntryList {
  #items = new Uint32Array(1024);
  length = 0;

  push(item: number): void {
    if (this.length === this.#items.length) {
      const grown = new Uint32Array(this.#items.length * 2);
      grown.set(this.#items);
      this.#items = grown;
    }
    this.#items[this.length++] = item;
  }

  at(i: number): number {
    return this.#items[i]!;
  }
}

const DOT = Buffer.from('.');
const DOT_DOT = Buffer.from('..');

/**
 * The second node of a name listed twice, if any. A tree is stored sorted bytewise by name,
 * so only one out of order (crafted or damaged) needs the names set side by side.
 */
function listedTwice(nodes: TreeNode[]): TreeNode | undefined {
  let ordered = true;
  for (let i = 1; i < nodes.length && ordered; i++) ordered = Buffer.compare(nodes[i - 1]!.name, nodes[i]!.name) < 0;
  if (ordered) return undefined;
  const seen = new Set<string>();
  for (const node of nodes) {
    const key = node.name.toString('latin1');
    if (seen.has(key)) return node;
    seen.add(key);
  }
  return undefined;
}

function isSafeName(name: Buffer): boolean {
  return name.length > 0 && !name.includes(0x2f) && !name.includes(0) && !name.equals(DOT) && !name.equals(DOT_DOT);
}

/** A name as one printable line: control bytes (NUL, newline) would break the message. */
function showBytes(name: Buffer): string {
  return name.toString('utf8').replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Where the blobs of one pack go: parallel arrays, one slot per use of a blob (a file, and
 * the offset in it). Objects per use and a map per pack, built for every file before the
 * first write, held the main thread 70 ms for 20 000 files, most of it collecting them.
 */
class PackTargets {
  readonly files: PlannedFile[] = [];
  readonly offsets: number[] = [];
  /** Index entry numbers. */
  readonly blobs: number[] = [];

  add(file: PlannedFile, offset: number, blob: number): void {
    this.files.push(file);
    this.offsets.push(offset);
    this.blobs.push(blob);
  }

  /**
   * The pack's blobs to read, each once and in pack order, and the uses of each:
   * `uses[starts[k]]` to `uses[starts[k + 1]]` are slots of `blobs[k]`. Built when its
   * pack's turn comes, so the work is spread over the writing.
   */
  group(index: BlobEntries): { blobs: BlobLocation[]; starts: number[]; uses: Uint32Array; blobOf: Map<string, number> } {
    const entries = this.blobs;
    const uses = new Uint32Array(entries.length);
    for (let i = 0; i < uses.length; i++) uses[i] = i;
    // Entries break ties: two blobs at one place (a damaged index) stay two, each checked against its own id.
    // An entry has one place, so a blob's uses sort together.
    uses.sort((a, b) => index.offsetAt(entries[a]!) - index.offsetAt(entries[b]!) || entries[a]! - entries[b]!);
    const blobs: BlobLocation[] = [];
    const starts: number[] = [];
    const blobOf = new Map<string, number>();
    for (let k = 0, previous = -1; k < uses.length; k++) {
      const entry = entries[uses[k]!]!;
      if (entry === previous) continue;
      previous = entry;
      const location = index.locationAt(entry);
      blobOf.set(location.id, blobs.length);
      blobs.push(location);
      starts.push(k);
    }
    starts.push(uses.length);
    return { blobs, starts, uses, blobOf };
  }
}

/** Fetches every pack once and writes each of its blobs wherever the snapshot uses it. */
async function writeContent(repo: Repository, plan: RestorePlan, opts: RestoreOptions, owner: boolean, onBytes: (n: number) => void): Promise<void> {
  const index = repo.blobEntries;
  const byPack = new Map<number, PackTargets>();
  for (const file of plan.files) {
    let offset = 0;
    for (let b = file.firstBlob; b < file.firstBlob + file.blobCount; b++) {
      const blob = plan.blobs.at(b);
      const packNo = index.packNumberAt(blob);
      let targets = byPack.get(packNo);
      if (!targets) byPack.set(packNo, (targets = new PackTargets()));
      targets.add(file, offset, blob);
      offset += index.rawLengthAt(blob);
    }
  }
  const packs = [...byPack.values()];
  const buffers = new BufferPool(REUSED_BUFFER_BYTES);
  let next = 0;
  const worker = async () => {
    while (next < packs.length) {
      const targets = packs[next++]!;
      const { blobs, starts, uses, blobOf } = targets.group(index);
      const packId = blobs[0]!.packId;
      const newFiles = new NewFileBatch(owner);
      try {
        for await (const { id, data, release } of repo.loadBlobsFromPack(packId, blobs, buffers)) {
          checkAborted(opts.signal);
          const blob = blobOf.get(id);
          const [first, end] = blob === undefined ? [0, 0] : [starts[blob]!, starts[blob + 1]!];
          // The blob's buffer is reused once every file it goes into has been written.
          let writing = end - first;
          const written = () => {
            if (--writing === 0) release();
          };
          if (writing === 0) release();
          for (let k = first; k < end; k++) {
            const use = uses[k]!;
            const file = targets.files[use]!;
            if (newFiles.accepts(file)) await newFiles.add(file, data, written);
            else {
              await writeAt(file, data, targets.offsets[use]!);
              written();
            }
            onBytes(data.length);
          }
        }
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
  #files: NewFile[] = [];
  #written: (() => void)[] = [];
  #bytes = 0;

  constructor(readonly owner: boolean) {}

  accepts(file: PlannedFile): boolean {
    return file.createOnWrite && !file.force && !file.sparse && Object.keys(file.xattrs ?? {}).length === 0;
  }

  /** The file is complete when the batch is written (its metadata is set there too); `written` is called then. */
  async add(file: PlannedFile, data: Buffer, written: () => void): Promise<void> {
    this.#files.push({ path: file.path, data, metadata: file });
    this.#written.push(written);
    file.metadataApplied = true;
    this.#bytes += data.length;
    if (this.#files.length >= NEW_FILES_PER_BATCH || this.#bytes >= NEW_FILE_BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    const files = this.#files;
    const written = this.#written;
    this.#files = [];
    this.#written = [];
    this.#bytes = 0;
    const failed = (await writeNewFiles(files, { owner: this.owner })).find((f) => f !== undefined);
    if (failed) throw failed;
    for (const done of written) done();
  }
}

/** On the pool: a large file's blobs are most of a restore's bytes, and the main thread has other packs to hand out. */
async function writeAt(file: PlannedFile, data: Buffer, position: number): Promise<void> {
  if (file.createOnWrite) replaceIfForced(file.path, file.force);
  const handle = await open(file.path, fsc.O_WRONLY | fsc.O_NOFOLLOW | (file.createOnWrite ? fsc.O_CREAT | fsc.O_EXCL : 0), 0o600);
  try {
    if (file.sparse) createSparseWriter(handle.fd, file.size).write(data, position);
    else {
      let written = 0;
      while (written < data.length) written += (await handle.write(data, written, data.length - written, position + written)).bytesWritten;
    }
  } finally {
    await handle.close();
  }
}

function createEmptyFile(path: Buffer, size: number, force: boolean): void {
  replaceIfForced(path, force);
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    // The final size up front: holes of sparse files stay holes, and blobs can land in any order.
    if (size > 0) ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

function makeDirectory(path: Buffer, force: boolean): void {
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
function replaceIfForced(path: Buffer, force: boolean): void {
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

/** Checks the target without creating it: a restore that fails its checks leaves no trace. */
async function checkTarget(target: string, force: boolean): Promise<string> {
  const abs = resolve(target);
  const existing = await stat(abs).catch(() => undefined);
  if (!existing) return abs;
  if (!existing.isDirectory()) throw new UsageError(`restore target ${abs} is not a directory`);
  if (!force && (await readdir(abs)).length > 0) throw new UsageError(`restore target ${abs} is not empty`, { remedy: { option: 'force', to: 'restore into it' } });
  return abs;
}

interface IncludeMatcher {
  (path: string, isDir: boolean): 'yes' | 'ancestor' | 'no';
  /** The globs, as given, that matched no path so far. */
  unmatched(): string[];
}

/**
 * 'yes' for a node the include globs select (or an ancestor of the node does),
 * 'ancestor' for a directory that leads to selected nodes, 'no' otherwise; no matcher
 * without include globs, when every node is selected.
 */
function includeMatcher(include: string[] | undefined): IncludeMatcher | undefined {
  if (!include || include.length === 0) return undefined;
  const given = [...new Set(include)];
  const patterns = given.map((p) => (p.startsWith('/') || p.startsWith('**') ? p : `**/${p}`));
  const isMatch = picomatch(patterns, { dot: true });
  // Each glob alone, tried only on paths the whole set matched, and only until it matched one.
  const unmatched = new Map(patterns.map((p, i) => [given[i]!, picomatch(p, { dot: true })]));
  const prefixes = patterns.map((p) => p.split('/'));
  const selected = new Set<string>();
  const matcher = (path: string, isDir: boolean): 'yes' | 'ancestor' | 'no' => {
    const parentPath = path.slice(0, path.lastIndexOf('/'));
    const matched = isMatch(path);
    if (matched) for (const [glob, alone] of unmatched) if (alone(path)) unmatched.delete(glob);
    if (matched || selected.has(parentPath)) {
      if (isDir) selected.add(path);
      return 'yes';
    }
    if (isDir && prefixes.some((parts) => couldLeadTo(path.split('/'), parts))) return 'ancestor';
    return 'no';
  };
  return Object.assign(matcher, { unmatched: () => [...unmatched.keys()] });
}

/** Whether a directory path can still contain matches of a pattern, comparing segment by segment. */
function couldLeadTo(dirParts: string[], patternParts: string[]): boolean {
  for (let i = 0; i < dirParts.length; i++) {
    const pattern = patternParts[i];
    if (pattern === undefined) return false;
    if (pattern === '**') return true;
    // picomatch throws on an empty pattern: the segment before the leading '/' of an absolute glob.
    if (pattern === '' ? dirParts[i] !== '' : !picomatch.isMatch(dirParts[i] ?? '', pattern, { dot: true })) return false;
  }
  return true;
}

/**
 * Re-reads every restored file and compares it with its content in the backup: each blob's
 * hash, and its length with the content's. A file whose node records another size than its
 * content holds is a mismatch too: the backup does not hold what it says.
 */
async function verifyFiles(index: BlobEntries, plan: RestorePlan): Promise<{ files: number; mismatches: string[] }> {
  const mismatches: string[] = [];
  const { files } = plan;
  const misrecorded = new Set(plan.sizeMismatches.map((m) => m.file));
  for (const file of files) {
    if (misrecorded.has(file)) {
      mismatches.push(file.path.toString());
      continue;
    }
    const handle = await open(file.path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      let position = 0;
      for (let b = file.firstBlob; b < file.firstBlob + file.blobCount; b++) {
        const location = index.locationAt(plan.blobs.at(b));
        const buf = Buffer.allocUnsafe(location.rawLength);
        const { bytesRead } = await handle.read(buf, 0, buf.length, position);
        position += location.rawLength;
        if (bytesRead !== buf.length || createHash('sha256').update(buf).digest('hex') !== location.id) {
          mismatches.push(file.path.toString());
          break;
        }
      }
      if ((await handle.stat()).size !== file.size && !mismatches.includes(file.path.toString())) mismatches.push(file.path.toString());
    } finally {
      await handle.close();
    }
  }
  return { files: files.length, mismatches };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError('restore interrupted');
}
