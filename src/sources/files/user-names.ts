import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * uid/gid → name from /etc/passwd and /etc/group, read once. os.userInfo() can only
 * describe the current user, and a name is what makes owners portable between hosts.
 */
let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

function parse(path: string): Map<number, string> {
  const map = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id) && !map.has(Number(id))) map.set(Number(id), name);
  }
  return map;
}

export function userName(uid: number): string | undefined {
  users ??= parse('/etc/passwd');
  return users.get(uid);
}

export function groupName(gid: number): string | undefined {
  groups ??= parse('/etc/group');
  return groups.get(gid);
}

/** The names this process records for owners (read once, like the maps): for caches of trees (DirCache). */
export function ownerNamesDigest(): string {
  users ??= parse('/etc/passwd');
  groups ??= parse('/etc/group');
  return createHash('sha256')
    .update(JSON.stringify([[...users], [...groups]]))
    .digest('hex');
}
