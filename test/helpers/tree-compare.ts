import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { listXattrs, getXattr } from '../../src/sources/files/native.js';
import { nodeType } from '../../src/sources/files/stat-node.js';

export interface EntryFacts {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: bigint;
  mtimeNs: bigint;
  linkTarget?: string;
  sha256?: string;
  xattrs: Record<string, string>;
  /** Index of the first path sharing this inode, for hard links. */
  linkGroup?: string;
  allocatedBytes: bigint;
}

async function hashFile(path: Buffer): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Everything a faithful restore must reproduce, keyed by the path relative to `root`
 * (hex-encoded so non-UTF-8 names compare exactly). Metadata is read before content,
 * so reading does not disturb what is compared.
 */
export async function describeTree(root: Buffer): Promise<Map<string, EntryFacts>> {
  const facts = new Map<string, EntryFacts>();
  const inodes = new Map<string, string>();
  const visit = async (path: Buffer, rel: Buffer) => {
    const st = await lstat(path, { bigint: true });
    const type = nodeType(st);
    const key = rel.toString('hex');
    const xattrs: Record<string, string> = {};
    for (const name of listXattrs(path)) xattrs[name] = getXattr(path, name).toString('hex');
    const entry: EntryFacts = {
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'dir' ? 0n : st.size,
      mtimeNs: st.mtimeNs,
      xattrs,
      allocatedBytes: st.blocks * 512n,
    };
    if (type === 'symlink') entry.linkTarget = (await readlink(path, { encoding: 'buffer' })).toString('hex');
    if (type === 'file' && st.nlink > 1n) {
      const ino = `${st.dev}:${st.ino}`;
      entry.linkGroup = inodes.get(ino) ?? key;
      inodes.set(ino, entry.linkGroup);
    }
    facts.set(key, entry);
    if (type === 'dir') {
      const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
      for (const name of names) await visit(Buffer.concat([path, Buffer.from('/'), name]), rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
    }
  };
  await visit(root, Buffer.alloc(0));
  for (const [key, entry] of facts) {
    if (entry.type === 'file') entry.sha256 = await hashFile(Buffer.concat([root, Buffer.from('/'), Buffer.from(key, 'hex')]));
  }
  return facts;
}
