import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadNativeAddon } from '../core/native-addon.js';

interface LockAddon {
  lockFile(path: Buffer): number | null;
  lockHeld(path: Buffer): boolean;
}
const lockAddon = () => loadNativeAddon<LockAddon>('bkdr_fs');

/**
 * The spool directory of asynchronous WAL archiving (`wal push --async`, `wal fetch --async`),
 * shared by the short-lived command PostgreSQL runs per WAL file and the one long-lived
 * worker that does the work, as pgBackRest's spool-path. Only node:fs here: the command
 * PostgreSQL runs loads this module and nothing of the rest of bkdr.
 *
 *   push/queue/<name>     a WAL file waiting to be stored; holds its absolute path
 *   push/<name>.ok        <name> is stored on every destination; holds the stamp of what was read
 *   push/<name>.error     the push of <name> failed; holds exit code, a tab, the message
 *   fetch/want/<name>     a WAL file PostgreSQL asked for and found nowhere staged
 *   fetch/<name>          a WAL file fetched, verified and synced: ready to be renamed into pg_wal
 *   fetch/<name>.missing  no destination has <name>
 *   fetch/<name>.error    the fetch of <name> failed
 *   <kind>/worker.pid     the worker's lock (flock, held while it runs); holds its pid, for people
 *   <kind>/worker.error   the worker could not start (config, password); holds code, tab, message
 */
export class WalSpool {
  readonly dir: string;
  #lockFd: number | undefined;

  constructor(
    spool: string,
    readonly kind: 'push' | 'fetch',
  ) {
    this.dir = join(spool, kind);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** The queue of requests: push/queue or fetch/want. */
  get queueDir(): string {
    return join(this.dir, this.kind === 'push' ? 'queue' : 'want');
  }

  ensure(): void {
    mkdirSync(this.queueDir, { recursive: true, mode: 0o700 });
  }

  /** The requests; a request being written (a temporary name, starting with '.') is not one yet. */
  queued(): string[] {
    return listOrEmpty(this.queueDir).filter((n) => !n.startsWith('.'));
  }

  /** A marker written under a temporary name and renamed: a reader never sees half of it. Not synced: a marker lost in a crash means work done again, never a file lost. */
  writeAtomic(path: string, content: string): void {
    // '.<name>.<pid>.tmp': a worker listing a queue passes over names starting with a dot.
    const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  }

  /** The content of a marker file, or undefined when there is none. */
  read(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }

  remove(path: string): void {
    rmSync(path, { force: true });
  }

  /** Whether a worker holds this spool's lock (a kernel lock on worker.pid: gone with its process, however it ended). */
  workerAlive(): boolean {
    return lockAddon().lockHeld(Buffer.from(this.path('worker.pid')));
  }

  /** Takes the worker's lock, for as long as this process runs or until unlock(); false when a live worker holds it. */
  lock(): boolean {
    const fd = lockAddon().lockFile(Buffer.from(this.path('worker.pid')));
    if (fd === null) return false;
    this.#lockFd = fd;
    // For the operator: whose it is. The lock is the kernel's, not this number.
    ftruncateSync(fd);
    writeSync(fd, String(process.pid), 0);
    return true;
  }

  /** Gives the lock back. The file stays: a process that opened it before an unlink could lock a file no one else sees. */
  unlock(): void {
    if (this.#lockFd === undefined) return;
    closeSync(this.#lockFd);
    this.#lockFd = undefined;
  }

  /** A failure as a marker: exit code and one line, for the command that waits on it. */
  writeFailure(path: string, code: number, message: string): void {
    this.writeAtomic(path, `${code}\t${message.split('\n')[0]}`);
  }

  readFailure(path: string): { code: number; message: string } | undefined {
    const text = this.read(path);
    if (text === undefined) return undefined;
    const tab = text.indexOf('\t');
    return { code: Number(text.slice(0, tab)) || 1, message: text.slice(tab + 1) };
  }

  entries(): string[] {
    return listOrEmpty(this.dir);
  }

  /** Every file this spool's worker answers with (not the lock, the queue or the worker's log). */
  answers(): string[] {
    return this.entries().filter((n) => !['want', 'queue', 'worker.pid', 'worker.error', 'worker.log'].includes(n));
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * What a WAL file was when it was read for a push (size, mtime in ns, inode; integers, so that
 * native/bkdr_wal.c writes the same): the `.ok` of another file of the same name is not its
 * acknowledgement.
 */
export function walStamp(st: { size: bigint; mtimeNs: bigint; ino: bigint }): string {
  return `${st.size}:${st.mtimeNs}:${st.ino}`;
}

/** Segment names: timeline, log, segment (8 hex digits each). */
const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;

/** The segment after `name` (segments of `segmentBytes`), or undefined when `name` is not a segment (a .history, a .partial). */
export function nextSegment(name: string, segmentBytes: number): string | undefined {
  const m = SEGMENT.exec(name);
  if (!m || segmentBytes <= 0) return undefined;
  const perLog = Math.floor(0x100000000 / segmentBytes);
  let log = parseInt(m[2]!, 16);
  let seg = parseInt(m[3]!, 16) + 1;
  if (seg >= perLog) {
    log += 1;
    seg = 0;
  }
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${m[1]}${hex(log)}${hex(seg)}`;
}

/** Runs a worker's loop until it returns or SIGTERM/SIGINT asks it to stop (then it ends its current work and cleans up). */
export async function whileNotStopped(loop: (stopped: () => boolean) => Promise<void>): Promise<void> {
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await loop(() => stop);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
