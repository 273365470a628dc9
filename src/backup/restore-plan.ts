import picomatch from 'picomatch';
import { ByteSlabs } from '../core/byte-slabs.js';
import { IntegrityError, InterruptedError, OperationError, UsageError } from '../core/errors.js';
import { resized } from '../core/typed-arrays.js';
import { deserializeTree } from '../repo/tree.js';
import type { TreeNode } from '../repo/tree-node.js';
import { treesInOrder } from '../repo/trees-in-order.js';
import { PlannedFiles } from './planned-files.js';
import type { RestoreOptions } from './restorer.js';

/**
 * A backup whose listing could write outside the target (a crafted or corrupted tree).
 * Another destination's copy of it is no safer, so restore does not fall over for it.
 */
export class UnsafeBackupError extends IntegrityError {}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError('restore interrupted');
}

export interface PlannedEntry {
  path: Buffer;
  node: TreeNode;
}

/** Everything a restore will create, known before the first write. */
export interface RestorePlan {
  /** Parents before their children. */
  dirs: PlannedEntry[];
  /** Files by number, in plan order; their blobs are index entry numbers in `blobs` (objects per blob were half of a 20 000-file plan's time). */
  files: PlannedFiles;
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
  sizeMismatches: { file: number; recorded: number }[];
  warnings: string[];
}

/**
 * Reads the whole snapshot tree and decides what goes where. A snapshot is outside
 * input: a name that could leave its directory, or one listed twice (a symlink and a
 * directory of the same name would let a later write go through the link), fails the
 * restore here, while the target is still untouched.
 */
export async function planRestore(opts: RestoreOptions, targetBuf: Buffer): Promise<RestorePlan> {
  const { repo } = opts;
  const force = opts.force ?? false;
  const matches = includeMatcher(opts.include);
  const backup = opts.backupId ? `backup ${opts.backupId.slice(0, 8)}` : `the backup with tree ${opts.tree.slice(0, 8)}`;
  const plan: RestorePlan = { dirs: [], files: new PlannedFiles(), blobs: new EntryList(), hardlinks: [], later: [], sizeMismatches: [], warnings: [] };
  const index = repo.blobEntries;
  /** A hard-linked file's first path, and its copy in the plan once a second link is planned (one for all of them). */
  const hardlinkFirst = new Map<string, { path: Buffer; existing?: Buffer }>();
  const planned = new Set<string>();
  const skipped = new Map<string, PlannedEntry>();
  // What the plan keeps to its end (directories, links, special files) is copied out of Buffer's pools. What only
  // planning keeps (first paths of hard-linked files, directories include globs passed over) goes with it: most of
  // those never reach the plan.
  const slabs = new ByteSlabs();
  const planningSlabs = new ByteSlabs();

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
  /** `dir` into the plan, copied there (from a walk's Buffers, or from planningSlabs when it was skipped first). */
  const planDir = (dir: PlannedEntry) => {
    planned.add(dir.path.subarray(targetBuf.length).toString('latin1'));
    plan.dirs.push(heldEntry(dir, slabs));
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
      const wanted = matches ? matches(entry.path.toString('utf8', targetBuf.length), node.type === 'dir') : true;
      if (wanted && !parentsPlanned) {
        planParents(parent);
        parentsPlanned = true;
      }
      if (node.type === 'dir') {
        if (!wanted) skipped.set(entry.path.toString('latin1', targetBuf.length), heldEntry(entry, planningSlabs));
        else planDir(entry);
        if (node.subtree) await visit(subtrees.next(), entry.path);
        continue;
      }
      if (!wanted) continue;
      if (node.type === 'file') {
        const link = node.nlink > 1 ? `${node.dev}:${node.inode}` : undefined;
        const first = link ? hardlinkFirst.get(link) : undefined;
        if (first) {
          first.existing ??= slabs.copy(first.path);
          plan.hardlinks.push({ ...heldEntry(entry, slabs), existing: first.existing });
          continue;
        }
        if (link) hardlinkFirst.set(link, { path: planningSlabs.copy(entry.path) });
        const firstBlob = plan.blobs.length;
        let size = 0;
        for (const id of node.content ?? []) {
          const blob = index.entryOf(id);
          if (blob < 0) throw new OperationError(`blob ${id.slice(0, 12)} of ${entry.path.subarray(targetBuf.length).toString()} is missing from the repository index`);
          plan.blobs.push(blob);
          size += index.rawLengthAt(blob);
        }
        // Kept as numbers from here on: a string or null there (a crafted or damaged tree) would be
        // read as another mode or owner (chmod took "644" as octal; null became root).
        if (!isUint32(node.mode) || node.mode > 0o7777 || !isUint32(node.uid) || !isUint32(node.gid))
          throw new UnsafeBackupError(`${backup} records an invalid mode or owner for '${showBytes(entry.path.subarray(targetBuf.length))}': nothing was restored`);
        const file = plan.files.add(entry.path, node, size, firstBlob, plan.blobs.length - firstBlob, force);
        if ((node.size ?? 0) !== size) plan.sizeMismatches.push({ file, recorded: node.size ?? 0 });
      } else {
        plan.later.push(heldEntry(entry, slabs));
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

/** A growing list of uint32 (index entry numbers): one typed array, not a number per slot of a JS array. */
export class EntryList {
  #items = new Uint32Array(1024);
  length = 0;

  push(item: number): void {
    if (this.length === this.#items.length) this.#items = resized(this.#items, this.#items.length * 2);
    this.#items[this.length++] = item;
  }

  at(i: number): number {
    return this.#items[i]!;
  }
}

/** `entry` with its bytes (path, name, link target, extended attributes) in `slabs`: the walk's and deserializeTree's are slices of Buffer's pools. */
function heldEntry({ path, node }: PlannedEntry, slabs: ByteSlabs): PlannedEntry {
  const held: TreeNode = { ...node, name: slabs.copy(node.name) };
  if (node.linkTarget) held.linkTarget = slabs.copy(node.linkTarget);
  if (node.xattrs) held.xattrs = slabs.copyValues(node.xattrs);
  return { path: slabs.copy(path), node: held };
}

function isUint32(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;
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
export function showBytes(name: Buffer): string {
  return name.toString('utf8').replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

interface IncludeMatcher {
  (path: string, isDir: boolean): boolean;
  /** The globs, as given, that matched no path so far. */
  unmatched(): string[];
}

/**
 * Whether the include globs select a node (they match it, or a directory above it); no
 * matcher without include globs, when every node is selected. A directory that is not
 * selected itself is created only once something below it is (planRestore's planParents).
 */
function includeMatcher(include: string[] | undefined): IncludeMatcher | undefined {
  if (!include || include.length === 0) return undefined;
  const given = [...new Set(include)];
  const patterns = given.map((p) => (p.startsWith('/') || p.startsWith('**') ? p : `**/${p}`));
  const isMatch = picomatch(patterns, { dot: true });
  // Each glob alone, tried only on paths the whole set matched, and only until it matched one.
  const unmatched = new Map(patterns.map((p, i) => [given[i]!, picomatch(p, { dot: true })]));
  const selected = new Set<string>();
  const matcher = (path: string, isDir: boolean): boolean => {
    const parentPath = path.slice(0, path.lastIndexOf('/'));
    const matched = isMatch(path);
    if (matched) for (const [glob, alone] of unmatched) if (alone(path)) unmatched.delete(glob);
    if (!matched && !selected.has(parentPath)) return false;
    if (isDir) selected.add(path);
    return true;
  };
  return Object.assign(matcher, { unmatched: () => [...unmatched.keys()] });
}

const SLASH = Buffer.from('/');
