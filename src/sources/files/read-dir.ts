import { readdir } from 'node:fs/promises';

/** A directory's entry names as raw bytes, sorted bytewise (the order trees are stored in). */
export async function readDirNames(dir: Buffer): Promise<Buffer[]> {
  const names = await readdir(dir, { encoding: 'buffer' });
  return names.sort(Buffer.compare);
}
