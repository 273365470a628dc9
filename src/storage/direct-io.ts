import { loadNativeAddon } from '../core/native-addon.js';
import { systemError } from '../core/system-error.js';

interface DirectIoAddon {
  writeObject(path: Buffer, data: Buffer, direct: boolean): Promise<[Buffer, Float64Array]>;
}

/**
 * Objects from this size on are written with O_DIRECT (when their buffer is aligned):
 * below it, the device's synchronous write costs more than the page-cache copy it saves.
 */
const DIRECT_FROM = 1024 * 1024;
const STEPS = ['open', 'write', 'fsync', 'close'];

const addon = (): DirectIoAddon => loadNativeAddon<DirectIoAddon>('bkdr_blob');

/**
 * Creates `path` (never over an existing file, never through a link) holding `data`, and
 * syncs it, in one trip to the pool. Large data from `alignedBuffer` (core/aligned-buffer.ts)
 * skips the page cache (native/bkdr_blob.c run_write_object says why). Resolves whether it did.
 */
export async function writeNewFileDurably(path: string, data: Buffer): Promise<{ direct: boolean }> {
  const pathBytes = Buffer.from(path);
  const [, result] = await addon().writeObject(pathBytes, data, data.length >= DIRECT_FROM);
  if (result[0]) throw systemError(result[0], STEPS[result[1]!] ?? 'write', pathBytes);
  return { direct: result[2] === 1 };
}
