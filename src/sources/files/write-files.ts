import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';

interface WriteAddon {
  writeFiles(paths: Buffer[], data: Buffer[], metadata: Float64Array | null, chown: boolean): Promise<[Buffer, Float64Array]>;
}

/** Numbers per file in the metadata array (native/bkdr_blob.c FILE_META): mode, uid, gid, atime s, ns, mtime s, ns. */
export const FILE_META = 7;
const STEPS = ['open', 'write', 'fchown', 'fchmod', 'futimens', 'close'];

/**
 * Creates many new files with their whole content in one trip to the pool (open with
 * O_CREAT|O_EXCL|O_NOFOLLOW, with the file's permission bits when it keeps the owner and
 * group it is created with (a setgid directory's group counts), else, or without
 * metadata, 0600; write, then fchown/fchmod/futimens when metadata is given, fchown and
 * fchmod only where the new file's owner or mode differ; close): a restore of small files
 * spent most of its main thread creating them one by one and setting their metadata by
 * path. Never writes through a link or over an existing file.
 *
 * `paths` and `data` side by side, and `metadata` FILE_META numbers per file (or null for
 * none): a restore keeps its files' fields in columns (PlannedFiles.packMetadata), and
 * objects per file (with their BigInt arithmetic) were 90 of the 1 200 MiB a restore of
 * 200 000 files allocated. Returns, per file, the error that stopped it, if any.
 */
export async function writeNewFiles(paths: Buffer[], data: Buffer[], metadata: Float64Array | null, opts: { owner: boolean }): Promise<(NodeJS.ErrnoException | undefined)[]> {
  if (paths.length === 0) return [];
  const addon = loadNativeAddon<WriteAddon>('bkdr_blob');
  const [, results] = await addon.writeFiles(paths, data, metadata, opts.owner);
  // Per file: errno, and the step that failed.
  return paths.map((path, i) => (results[i * 2] ? systemError(results[i * 2]!, STEPS[results[i * 2 + 1]!] ?? 'write', path) : undefined));
}
