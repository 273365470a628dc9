import { loadNativeAddon } from '../../core/native-addon.js';
import { timespec } from './timespec.js';

interface NativeFs {
  setTimes(path: Buffer, atimeS: number, atimeNs: number, mtimeS: number, mtimeNs: number, followSymlinks: boolean): void;
  mknod(path: Buffer, mode: number, rdev: bigint): void;
  listXattrs(path: Buffer): string[];
  getXattr(path: Buffer, name: string): Buffer;
  setXattr(path: Buffer, name: string, value: Buffer): void;
}

const load = (): NativeFs => loadNativeAddon<NativeFs>('bkdr_fs');

/**
 * Sets access and modification times with nanosecond precision (utimensat), any time
 * within 2^53 seconds of 1970 (a RangeError beyond: no file system holds those).
 */
export function setTimes(path: Buffer, atimeNs: bigint, mtimeNs: bigint, followSymlinks: boolean): void {
  const [atimeS, atimeRest] = timespec(atimeNs);
  const [mtimeS, mtimeRest] = timespec(mtimeNs);
  load().setTimes(path, atimeS, atimeRest, mtimeS, mtimeRest, followSymlinks);
}

/** Creates a FIFO or device node; `mode` includes the S_IF* type bits. */
export function mknod(path: Buffer, mode: number, rdev: bigint): void {
  load().mknod(path, mode, rdev);
}

/** Extended attribute names of a path, never following a symlink; empty where unsupported. */
export function listXattrs(path: Buffer): string[] {
  return load().listXattrs(path);
}

export function getXattr(path: Buffer, name: string): Buffer {
  return load().getXattr(path, name);
}

export function setXattr(path: Buffer, name: string, value: Buffer): void {
  load().setXattr(path, name, value);
}
