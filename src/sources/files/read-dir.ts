import { loadNativeAddon } from '../../core/native-addon.js';
import { systemError } from '../../core/system-error.js';

interface ReadDirAddon {
  readDir(path: Buffer): Promise<[Buffer, Float64Array]>;
}

/**
 * A directory's entry names as raw bytes, sorted bytewise (the order trees are stored in).
 * Read natively with O_NOATIME where allowed (native/bkdr_blob.c run_read_dir): a listing
 * through fs.readdir moved the directory's atime, which the parent's tree records, so with
 * daily backups every tree above a directory changed every day.
 */
export async function readDirNames(dir: Buffer): Promise<Buffer[]> {
  const [names, meta] = await loadNativeAddon<ReadDirAddon>('bkdr_blob').readDir(dir);
  if (meta[0]) throw systemError(meta[0], 'scandir', dir);
  const count = meta[1]!;
  const out: Buffer[] = new Array(count);
  for (let i = 0, start = 0; i < count; i++) {
    const end = names.indexOf(0, start);
    out[i] = names.subarray(start, end);
    start = end + 1;
  }
  return out.sort(Buffer.compare);
}

/** The path of entry `name` of directory `dir`, as bytes. */
export function joinPath(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 1 && dir[0] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}
