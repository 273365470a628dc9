import type { ObjectInfo } from './adapter.js';

export interface DirectoryEntry {
  name: string;
  isDirectory: boolean;
  size: number;
  modified?: Date | undefined;
}

/**
 * Lists a prefix on a store that has directories instead of keys (FTP, SFTP):
 * starts at the prefix's directory, descends only where keys can still match, and
 * skips upload temp files. `listDir` returns undefined for a missing directory.
 */
export async function listByPrefix(prefix: string, listDir: (dir: string) => Promise<DirectoryEntry[] | undefined>, tempPrefix: string): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await listDir(dir)) ?? []) {
      if (e.name.startsWith(tempPrefix) || e.name === '.' || e.name === '..') continue;
      const key = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
      } else if (key.startsWith(prefix)) found.push({ key, size: e.size, ...(e.modified ? { modified: e.modified } : {}) });
    }
  };
  const slash = prefix.lastIndexOf('/');
  await walk(slash >= 0 ? prefix.slice(0, slash) : '');
  return found;
}
