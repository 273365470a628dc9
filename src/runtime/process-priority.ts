import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export type PriorityLevel = 'low' | 'normal' | 'high';
export type IoClass = 'none' | 'realtime' | 'best-effort' | 'idle';

/** An I/O scheduling class and, for the classes that have one, its level (0 first, 7 last). */
export interface IoPriority {
  class: IoClass;
  level?: number | undefined;
}

export interface PriorityTarget {
  nice: number;
  io: IoPriority;
}

/** What `low` and `high` ask for; `normal` asks for nothing and changes nothing. */
export const PRIORITY_TARGETS: Record<Exclude<PriorityLevel, 'normal'>, PriorityTarget> = {
  low: { nice: 10, io: { class: 'idle' } },
  high: { nice: -5, io: { class: 'best-effort', level: 0 } },
};

/** What the OS offers; the real one is `linuxSystem`, a test may pass one that refuses. */
export interface PrioritySystem {
  /** The process's threads (Linux: /proc/self/task), the main thread first. */
  threads(): number[];
  getNice(tid: number): number;
  /** Throws the OS's error (EACCES, EPERM) when refused. */
  setNice(tid: number, nice: number): void;
  /** One entry per tid; undefined when the I/O priority cannot be read or set here (no ionice). */
  getIo(tids: number[]): IoPriority[] | undefined;
  setIo(io: IoPriority, tids: number[]): void;
  /** Whether this process may lower its niceness to `nice` (CAP_SYS_NICE or RLIMIT_NICE). */
  mayLowerNiceTo(nice: number): boolean;
}

export interface AppliedPriority {
  level: PriorityLevel;
  /** For the run's log and the operator: what changed, what was refused and why. */
  applied: string;
  /** Everything asked for was applied: nothing refused, nothing left alone, ionice found. */
  complete: boolean;
  /** The niceness and I/O priority the main thread runs at now. */
  nice: number;
  io: IoPriority | undefined;
  /** Puts back the values read before, on every thread (threads started since get the main thread's). */
  restore(): void;
}

export interface ApplyPriorityOptions {
  /**
   * The caller will call `restore()` and go on running (the scheduler). An unprivileged
   * process can raise its niceness but never lower it again, so then `low` leaves the
   * niceness alone rather than leave every later job at nice 10.
   */
  restorable?: boolean | undefined;
  system?: PrioritySystem | undefined;
}

const IO_CLASS_NUMBER: Record<IoClass, number> = { none: 0, realtime: 1, 'best-effort': 2, idle: 3 };

/** One line of `ionice -p` output: `idle`, `best-effort: prio 0`, `none: prio 4`, `realtime: prio 1`. */
export function parseIonice(line: string): IoPriority | undefined {
  const m = /^\s*(none|realtime|best-effort|idle)(?::\s*prio\s+(\d+))?\s*$/.exec(line);
  if (!m) return undefined;
  return { class: m[1] as IoClass, ...(m[2] !== undefined && m[1] !== 'idle' ? { level: Number(m[2]) } : {}) };
}

/** `ionice` arguments that set `io` on `tids`. */
export function ioniceArgs(io: IoPriority, tids: number[]): string[] {
  const level = io.class === 'best-effort' || io.class === 'realtime' ? ['-n', String(io.level ?? 4)] : [];
  return ['-c', String(IO_CLASS_NUMBER[io.class]), ...level, '-p', ...tids.map(String)];
}

export function describeIo(io: IoPriority): string {
  return io.level !== undefined ? `${io.class}/${io.level}` : io.class;
}

/** Field 19 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so count from its last `)`. */
export function niceFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): field 19 is at index 16.
  const nice = Number(fields[16]);
  if (!Number.isInteger(nice)) throw new Error(`no niceness in /proc stat line: ${stat.slice(0, 80)}`);
  return nice;
}

/** The error code when the OS refused a priority change for want of privilege; undefined for any other error. */
export function permissionRefused(err: unknown): 'EACCES' | 'EPERM' | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; info?: { code?: unknown } };
  // os.setPriority wraps the errno in ERR_SYSTEM_ERROR with the real code in `info`.
  const code = e.info?.code ?? e.code;
  return code === 'EACCES' || code === 'EPERM' ? code : undefined;
}

/**
 * Whether a process with `/proc/self/status` and `/proc/self/limits` as given may set
 * its niceness to `nice` or lower: CAP_SYS_NICE (bit 23 of CapEff), else a nice floor of
 * 20 - RLIMIT_NICE's soft limit (setpriority(2)).
 */
export function mayLowerNice(nice: number, status: string, limits: string): boolean {
  const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (cap !== undefined && (BigInt(`0x${cap}`) >> 23n) & 1n) return true;
  const soft = /^Max nice priority\s+(\S+)/m.exec(limits)?.[1];
  if (soft === undefined) return false;
  if (soft === 'unlimited') return true;
  return nice >= 20 - Number(soft);
}

let ioniceMissing = false;

export const linuxSystem: PrioritySystem = {
  threads() {
    try {
      const tids = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
      // The main thread's tid is the pid: first, so its old values stand for threads born later.
      return [process.pid, ...tids.filter((t) => t !== process.pid)];
    } catch {
      // Not Linux: priorities are per process there, and the pid stands for every thread.
      return [process.pid];
    }
  },
  getNice: (tid) => getPriority(tid),
  setNice: (tid, nice) => setPriority(tid, nice),
  getIo(tids) {
    if (ioniceMissing || process.platform !== 'linux') return undefined;
    try {
      const out = execFileSync('ionice', ['-p', ...tids.map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const parsed = out.trimEnd().split('\n').map(parseIonice);
      if (parsed.length !== tids.length || parsed.some((p) => p === undefined)) return undefined;
      return parsed as IoPriority[];
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') ioniceMissing = true;
      return undefined;
    }
  },
  setIo(io, tids) {
    execFileSync('ionice', ioniceArgs(io, tids), { stdio: ['ignore', 'ignore', 'pipe'] });
  },
  mayLowerNiceTo(nice) {
    try {
      return mayLowerNice(nice, readFileSync('/proc/self/status', 'utf8'), readFileSync('/proc/self/limits', 'utf8'));
    } catch {
      return false;
    }
  },
};

/**
 * Sets the whole process's CPU niceness and I/O scheduling class for `level`: `low`
 * nice 10 and the idle I/O class, `high` nice -5 and best-effort level 0, `normal`
 * nothing. On Linux both are per thread, so every thread in /proc/self/task gets them;
 * threads started later (libuv's pool starts on first use) inherit from the thread that
 * starts them, and child processes (pg_dump, a command source) from their parent. A
 * refusal (no CAP_SYS_NICE for a negative niceness) or a missing `ionice` leaves that
 * part at what it was and says so in `applied`; it never fails the run.
 */
export function applyProcessPriority(level: PriorityLevel, opts: ApplyPriorityOptions = {}): AppliedPriority {
  const system = opts.system ?? linuxSystem;
  const tids = system.threads();
  const main = tids[0] ?? process.pid;
  const niceBefore = new Map(tids.map((t) => [t, safe(() => system.getNice(t))]));
  const mainNice = niceBefore.get(main) ?? 0;
  if (level === 'normal') {
    return { level, applied: 'normal: unchanged', complete: true, nice: mainNice, io: undefined, restore: () => undefined };
  }
  const target = PRIORITY_TARGETS[level];
  const notes: string[] = [];

  let nice = mainNice;
  const niceChanged: number[] = [];
  if (opts.restorable && target.nice > mainNice && !system.mayLowerNiceTo(mainNice)) {
    notes.push(`nice ${mainNice} (left alone: without CAP_SYS_NICE it could not be put back to ${mainNice} after the job)`);
  } else {
    let refused: string | undefined;
    for (const tid of tids) {
      try {
        system.setNice(tid, target.nice);
        niceChanged.push(tid);
      } catch (err) {
        const code = permissionRefused(err);
        // A thread that ended between listing and setting is no reason to stop.
        if (code === undefined && isGone(err)) continue;
        refused = code ?? (err instanceof Error ? err.message : String(err));
        break;
      }
    }
    if (refused !== undefined) {
      // All or nothing: half the threads at -5 would be a priority nobody asked for.
      for (const tid of niceChanged) safe(() => system.setNice(tid, niceBefore.get(tid) ?? mainNice));
      niceChanged.length = 0;
      notes.push(`nice ${mainNice} (${target.nice} refused: ${refused}${refused === 'EACCES' || refused === 'EPERM' ? ', needs CAP_SYS_NICE' : ''})`);
    } else {
      nice = target.nice;
      notes.push(`nice ${target.nice}`);
    }
  }

  const ioBefore = system.getIo(tids);
  let io: IoPriority | undefined;
  if (ioBefore === undefined) {
    notes.push('I/O class unchanged (ionice from util-linux not found)');
  } else {
    try {
      system.setIo(target.io, tids);
      io = target.io;
      notes.push(`I/O ${describeIo(target.io)}`);
    } catch (err) {
      io = ioBefore[0];
      notes.push(`I/O ${io ? describeIo(io) : 'unchanged'} (${describeIo(target.io)} refused: ${firstLine(err)})`);
    }
  }

  const restore = () => {
    const now = system.threads();
    for (const tid of now) {
      if (niceChanged.length > 0) safe(() => system.setNice(tid, niceBefore.get(tid) ?? mainNice));
    }
    if (io !== undefined && ioBefore !== undefined) {
      // Threads that share their old class go back in one ionice call per class.
      const groups = new Map<string, { io: IoPriority; tids: number[] }>();
      const oldOf = new Map(tids.map((t, i) => [t, ioBefore[i] ?? ioBefore[0]]));
      for (const tid of now) {
        const old = oldOf.get(tid) ?? ioBefore[0];
        if (!old) continue;
        const key = describeIo(old);
        const group = groups.get(key) ?? { io: old, tids: [] };
        group.tids.push(tid);
        groups.set(key, group);
      }
      for (const g of groups.values()) safe(() => system.setIo(g.io, g.tids));
    }
  };
  const complete = nice === target.nice && io !== undefined && describeIo(io) === describeIo(target.io);
  return { level, applied: `${level}: ${notes.join(', ')} on ${tids.length} threads`, complete, nice, io, restore };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function isGone(err: unknown): boolean {
  const e = err as { code?: unknown; info?: { code?: unknown } };
  return (e.info?.code ?? e.code) === 'ESRCH';
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = e.stderr !== undefined && String(e.stderr).trim() !== '' ? String(e.stderr) : (e.message ?? String(err));
  return text.trim().split('\n')[0] ?? '';
}
