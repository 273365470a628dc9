import { chmodSync, ftruncateSync, lchownSync, symlinkSync, writeSync } from 'node:fs';
import type { TreeNode } from '../../repo/tree-node.js';
import { mknod, setTimes, setXattr } from './native.js';

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

// Synchronous on purpose: a restore makes several metadata calls per file, and for
// trees of small files the thread-pool round trip of each would cost more than the call.

export function createSymlink(path: Buffer, target: Buffer): void {
  symlinkSync(target, path);
}

/**
 * FIFOs always; device nodes only as root. Returns false for what cannot be created
 * here (sockets are never restored, as with restic: they belong to a running process).
 */
export function createSpecialNode(path: Buffer, node: TreeNode): boolean {
  const perm = node.mode & 0o7777;
  if (node.type === 'fifo') {
    mknod(path, S_IFIFO | perm, 0n);
    return true;
  }
  if ((node.type === 'chardev' || node.type === 'blockdev') && process.getuid?.() === 0) {
    mknod(path, (node.type === 'chardev' ? S_IFCHR : S_IFBLK) | perm, node.rdev ?? 0n);
    return true;
  }
  return false;
}

/** What applyMetadata reads of a node. */
export interface NodeMetadata {
  type: TreeNode['type'];
  mode: number;
  uid: number;
  gid: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  xattrs?: Record<string, Buffer> | undefined;
}

/**
 * Owner, then mode (chown clears setuid/setgid), then xattrs, then times last: any
 * earlier change would move ctime/mtime again. Returns warnings, never throws for
 * what a file system may not support.
 */
export function applyMetadata(path: Buffer, node: NodeMetadata, opts: { owner: boolean }): string[] {
  const warnings: string[] = [];
  if (opts.owner) lchownSync(path, node.uid, node.gid);
  if (node.type !== 'symlink') chmodSync(path, node.mode);
  for (const [name, value] of Object.entries(node.xattrs ?? {})) {
    try {
      setXattr(path, name, value);
    } catch (err) {
      warnings.push(`${path.toString()}: xattr ${name} not restored (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  try {
    setTimes(path, node.atimeNs, node.mtimeNs, false);
  } catch (err) {
    // Beyond 2^53 seconds either way (a crafted tree): no file system holds such a time.
    if (!(err instanceof RangeError)) throw err;
    warnings.push(`${path.toString()}: times not restored (${err.message})`);
  }
  return warnings;
}

const BLOCK = 4096;

/**
 * Writes a sparse file's data without filling its holes: 4 KiB-aligned blocks that
 * are all zeros are skipped (the file was truncated to its size first, so they read
 * back as zeros).
 */
export function createSparseWriter(fd: number, size: number): { write(data: Buffer, position: number): void; finish(): void } {
  const writeRange = (data: Buffer, from: number, to: number, position: number) => {
    let off = from;
    while (off < to) off += writeSync(fd, data, off, to - off, position + (off - from));
  };
  return {
    write(data, position) {
      let runStart = -1;
      for (let off = 0; off < data.length;) {
        // Align block edges to file offsets, so holes line up with the file system's blocks.
        const blockEnd = Math.min(data.length, off + BLOCK - ((position + off) % BLOCK));
        const zero = isZero(data, off, blockEnd);
        if (!zero && runStart < 0) runStart = off;
        if (zero && runStart >= 0) {
          writeRange(data, runStart, off, position + runStart);
          runStart = -1;
        }
        off = blockEnd;
      }
      if (runStart >= 0) writeRange(data, runStart, data.length, position + runStart);
    },
    finish() {
      ftruncateSync(fd, size);
    },
  };
}

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}
