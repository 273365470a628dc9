import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import picomatch from 'picomatch';

/** How deep a `**` glob is walked: log trees are shallow, and a glob rooted at / must not walk the disk. */
const MAX_DEPTH = 8;

/**
 * The files a glob names now, absolute. Relative globs resolve against `baseDir`. A
 * directory that cannot be read (absent, no permission) contributes nothing: the file may
 * appear later, and the next poll looks again.
 */
export async function expandLogGlob(glob: string, baseDir: string): Promise<string[]> {
  const pattern = isAbsolute(glob) ? glob : resolve(baseDir, glob);
  const scan = picomatch.scan(pattern);
  if (!scan.isGlob) return [pattern];
  const isMatch = picomatch(pattern, { dot: true });
  const depth = scan.glob.includes('**') ? MAX_DEPTH : scan.glob.split('/').length;
  const found: string[] = [];
  const walk = async (dir: string, level: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isFile() && isMatch(path)) found.push(path);
      else if (e.isDirectory() && level < depth) await walk(path, level + 1);
    }
  };
  await walk(scan.base || '/', 1);
  return found.sort();
}
