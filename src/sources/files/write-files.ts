import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';
import type { TreeNode } from '../../repo/tree-node.js';
import { timespec } from './timespec.js';

interface WriteAddon {
  writeFiles(paths: Buffer[], data: Buffer[], metadata: Float64Array | null, chown: boolean): Promise<[Buffer, Float64Array]>;
}

export interface NewFile {
  path: Buffer;
  data: Buffer;
  /** Set through the open file once written: mode, access and modification times, and the owner when `owner`. */
  metadata?: Pick<TreeNode, 'mode' | 'uid' | 'gid' | 'atimeNs' | 'mtimeNs'>;
}

/** Numbers per file in the metadata array (native/bkdr_blob.c FILE_META): mode, uid, gid, atime s, ns, mtime s, ns. */
export const FILE_META = 7;
const STEPS = ['open', 'write', 'fchown', 'fchmod', 'futimens', 'close'];

/**
 * Creates many new files with their whole content in one trip to the pool (open with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, write, then fchown/fchmod/futimens when metadata
 * is given, fchown and fchmod only where the new file's owner or mode differ, close): a
 * restore of small files spent most of its main thread creating them one by one and
 * setting their metadata by path. Never writes through a link or over an
 * existing file. Metadata is given for every file or for none. Returns, per file, the
 * error that stopped it, if any.
 */
export async function writeNewFiles(files: NewFile[], opts: { owner: boolean }): Promise<(NodeJS.ErrnoException | undefined)[]> {
  if (files.length === 0) return [];
  let metadata: Float64Array | null = null;
  if (files[0]!.metadata) {
    metadata = new Float64Array(files.length * FILE_META);
    for (const [i, { metadata: m }] of files.entries()) {
      if (!m) throw new TypeError('writeNewFiles: metadata for every file or for none');
      metadata.set([m.mode, m.uid, m.gid, ...timespec(m.atimeNs), ...timespec(m.mtimeNs)], i * FILE_META);
    }
  }
  return writeNewFilesPacked(
    files.map((f) => f.path),
    files.map((f) => f.data),
    metadata,
    opts,
  );
}

/**
 * writeNewFiles for a caller that keeps its files' fields in columns (a restore plan): paths
 * and contents side by side, and FILE_META numbers per file already in `metadata` (or null).
 * Nothing per file is built here: for 200 000 files the objects (and the BigInt arithmetic)
 * of writeNewFiles were 90 of the 1 200 MiB a restore allocated.
 */
export async function writeNewFilesPacked(paths: Buffer[], data: Buffer[], metadata: Float64Array | null, opts: { owner: boolean }): Promise<(NodeJS.ErrnoException | undefined)[]> {
  if (paths.length === 0) return [];
  const addon = loadNativeAddon<WriteAddon>('bkdr_blob');
  const [, results] = await addon.writeFiles(paths, data, metadata, opts.owner);
  // Per file: errno, and the step that failed.
  return paths.map((path, i) => (results[i * 2] ? systemError(results[i * 2]!, STEPS[results[i * 2 + 1]!] ?? 'write', path) : undefined));
}
