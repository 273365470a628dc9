import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';

interface WriteAddon {
  writeFiles(paths: Buffer[], data: Buffer[]): Promise<[Buffer, Float64Array]>;
}

/**
 * Creates many new files with their whole content in one trip to the pool (open with
 * O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, write, close): a restore of small files spent
 * most of its main thread creating them one by one. Never writes through a link or over
 * an existing file. Returns, per file, the error that stopped it, if any.
 */
export async function writeNewFiles(paths: Buffer[], data: Buffer[]): Promise<(NodeJS.ErrnoException | undefined)[]> {
  if (paths.length === 0) return [];
  const [, errnos] = await loadNativeAddon<WriteAddon>('bkdr_blob').writeFiles(paths, data);
  return paths.map((path, i) => (errnos[i] ? systemError(errnos[i]!, 'open', path) : undefined));
}
