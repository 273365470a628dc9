import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { applyProcessPriority, ioniceArgs, linuxSystem, mayLowerNice, niceFromStat, parseIonice, permissionRefused, type PrioritySystem } from '../../src/runtime/process-priority.js';
import { repoRoot } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const linux = process.platform === 'linux';

/** Every thread of this process as `nice/ionice line`, read from outside the module under test. */
function threadStates(): string[] {
  const tids = readdirSync('/proc/self/task');
  const io = execFileSync('ionice', ['-p', ...tids], { encoding: 'utf8' })
    .trim()
    .split('\n');
  return tids.map((t, i) => `${niceFromStat(readFileSync(`/proc/self/task/${t}/stat`, 'utf8'))}/${io[i]}`);
}

describe('process priority helpers', () => {
  it('reads ionice lines', () => {
    expect(parseIonice('idle')).toEqual({ class: 'idle' });
    expect(parseIonice('best-effort: prio 0')).toEqual({ class: 'best-effort', level: 0 });
    expect(parseIonice('none: prio 4')).toEqual({ class: 'none', level: 4 });
    expect(parseIonice('realtime: prio 7')).toEqual({ class: 'realtime', level: 7 });
    expect(parseIonice('ionice: ioprio_get failed')).toBeUndefined();
  });

  it('writes ionice arguments for several threads at once', () => {
    expect(ioniceArgs({ class: 'idle' }, [10, 11])).toEqual(['-c', '3', '-p', '10', '11']);
    expect(ioniceArgs({ class: 'best-effort', level: 0 }, [10])).toEqual(['-c', '2', '-n', '0', '-p', '10']);
    expect(ioniceArgs({ class: 'none', level: 4 }, [10])).toEqual(['-c', '0', '-p', '10']);
  });

  it('finds field 19 of a stat line whose command name holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[16] = '-5';
    expect(niceFromStat(`1234 (a) b (c)) ${fields.join(' ')}`)).toBe(-5);
    expect(niceFromStat(readFileSync('/proc/self/stat', 'utf8'))).toBe(linuxSystem.getNice(process.pid));
  });

  it('knows who may lower a niceness: CAP_SYS_NICE, else RLIMIT_NICE', () => {
    const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax nice priority         ${soft}                    0                    \n`;
    const withCap = 'CapEff:\t000001fffeffffff\n';
    const noCap = 'CapEff:\t0000000000000000\n';
    const onlyNice = `CapEff:\t${(1n << 23n).toString(16).padStart(16, '0')}\n`;
    expect(mayLowerNice(-5, withCap, limits('0'))).toBe(true);
    expect(mayLowerNice(0, onlyNice, limits('0'))).toBe(true);
    expect(mayLowerNice(0, noCap, limits('0'))).toBe(false);
    // RLIMIT_NICE 20 lets the nice floor down to 0, not below.
    expect(mayLowerNice(0, noCap, limits('20'))).toBe(true);
    expect(mayLowerNice(-5, noCap, limits('20'))).toBe(false);
    expect(mayLowerNice(-20, noCap, limits('unlimited'))).toBe(true);
  });

  it('tells a refusal for want of privilege from other errors', () => {
    expect(permissionRefused({ code: 'ERR_SYSTEM_ERROR', info: { code: 'EACCES' } })).toBe('EACCES');
    expect(permissionRefused(Object.assign(new Error('x'), { code: 'EPERM' }))).toBe('EPERM');
    expect(permissionRefused({ code: 'ERR_SYSTEM_ERROR', info: { code: 'ESRCH' } })).toBeUndefined();
    expect(permissionRefused('EACCES')).toBeUndefined();
  });
});

describe('applyProcessPriority: the refusal path', () => {
  /** The kernel's rule for a process without CAP_SYS_NICE and RLIMIT_NICE 0: niceness only goes up. */
  function unprivileged(start: number): PrioritySystem & { nice: Map<number, number>; io: string[] } {
    const nice = new Map([
      [1, start],
      [2, start],
      [3, start],
    ]);
    const io: string[] = [];
    return {
      nice,
      io,
      threads: () => [...nice.keys()],
      getNice: (tid) => nice.get(tid) ?? 0,
      setNice: (tid, n) => {
        if (n < (nice.get(tid) ?? 0)) throw Object.assign(new Error('permission denied'), { code: 'ERR_SYSTEM_ERROR', info: { code: tid === 1 ? 'EACCES' : 'EPERM' } });
        nice.set(tid, n);
      },
      getIo: (tids) => tids.map(() => ({ class: 'none' as const, level: 0 })),
      setIo: (target, tids) => void io.push(`${target.class}:${tids.join(',')}`),
      mayLowerNiceTo: () => false,
    };
  }

  it('high without the privilege keeps the niceness, says why, and still sets the I/O class', () => {
    const system = unprivileged(0);
    const applied = applyProcessPriority('high', { system });
    expect(applied.applied).toBe('high: nice 0 (-5 refused: EACCES, needs CAP_SYS_NICE), I/O best-effort/0 on 3 threads');
    expect(applied.complete).toBe(false);
    expect(applied.nice).toBe(0);
    expect([...system.nice.values()]).toEqual([0, 0, 0]);
  });

  it('a refusal on a later thread puts back the threads already changed (all or nothing)', () => {
    const system = unprivileged(0);
    let calls = 0;
    // Privileged but refused on the second thread (as a security module might): the rollback itself is allowed.
    system.setNice = (tid, n) => {
      if (++calls === 2) throw Object.assign(new Error('permission denied'), { code: 'EPERM' });
      system.nice.set(tid, n);
    };
    const applied = applyProcessPriority('low', { system });
    expect(applied.applied).toMatch(/^low: nice 0 \(10 refused: EPERM, needs CAP_SYS_NICE\)/);
    expect([...system.nice.values()]).toEqual([0, 0, 0]);
  });

  it('for a job it must restore, low leaves the niceness alone when it could not be lowered back', () => {
    const system = unprivileged(0);
    const applied = applyProcessPriority('low', { system, restorable: true });
    expect(applied.applied).toBe('low: nice 0 (left alone: without CAP_SYS_NICE it could not be put back to 0 after the job), I/O idle on 3 threads');
    expect([...system.nice.values()]).toEqual([0, 0, 0]);
    applied.restore();
    expect(system.io).toEqual(['idle:1,2,3', 'none:1,2,3']);
  });

  it('without ionice, changes the niceness and says the I/O class stayed', () => {
    const system = { ...unprivileged(0), getIo: () => undefined };
    expect(applyProcessPriority('low', { system }).applied).toBe('low: nice 10, I/O class unchanged (ionice from util-linux not found) on 3 threads');
  });
});

describe.runIf(linux && isRoot)('applyProcessPriority on this process (root)', () => {
  it('low sets nice 10 and the idle I/O class on every thread, threads started later inherit them, restore puts back the old values', async () => {
    const before = threadStates();
    const applied = applyProcessPriority('low');
    let worker: Worker | undefined;
    try {
      expect(applied.applied).toMatch(/^low: nice 10, I\/O idle on \d+ threads$/);
      expect(applied.complete).toBe(true);
      expect(new Set(threadStates())).toEqual(new Set(['10/idle']));
      const known = new Set(readdirSync('/proc/self/task'));
      worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
      await new Promise((r) => worker?.once('online', r));
      const born = readdirSync('/proc/self/task').filter((t) => !known.has(t));
      expect(born.length).toBeGreaterThan(0);
      const bornIo = execFileSync('ionice', ['-p', ...born], { encoding: 'utf8' })
        .trim()
        .split('\n');
      expect(born.map((t, i) => `${niceFromStat(readFileSync(`/proc/self/task/${t}/stat`, 'utf8'))}/${bornIo[i]}`)).toEqual(born.map(() => '10/idle'));
    } finally {
      await worker?.terminate();
      applied.restore();
    }
    expect(new Set(threadStates())).toEqual(new Set(before));
  });

  it('high sets nice -5 and best-effort level 0, and restore puts them back', () => {
    const before = threadStates();
    const applied = applyProcessPriority('high');
    try {
      expect(applied.applied).toMatch(/^high: nice -5, I\/O best-effort\/0 on \d+ threads$/);
      expect(new Set(threadStates())).toEqual(new Set(['-5/best-effort: prio 0']));
    } finally {
      applied.restore();
    }
    expect(new Set(threadStates())).toEqual(new Set(before));
  });

  it('normal changes nothing', () => {
    const before = threadStates();
    expect(applyProcessPriority('normal').applied).toBe('normal: unchanged');
    expect(threadStates()).toEqual(before);
  });

  // The same code as an unprivileged user, for real: the kernel refuses, not a stand-in.
  it.runIf(existsSync(join(repoRoot, 'dist/runtime/process-priority.js')))('as nobody, high falls back to nice 0 and a restorable low leaves the niceness alone', async () => {
    const script = `
      const { applyProcessPriority } = await import(${JSON.stringify(join(repoRoot, 'dist/runtime/process-priority.js'))});
      const { getPriority } = await import('node:os');
      const high = applyProcessPriority('high'); const niceAfterHigh = getPriority(0); high.restore();
      const low = applyProcessPriority('low', { restorable: true }); const niceAfterLow = getPriority(0); low.restore();
      const oneShot = applyProcessPriority('low'); const niceOneShot = getPriority(0);
      console.log(JSON.stringify({ high: high.applied, niceAfterHigh, low: low.applied, niceAfterLow, oneShot: oneShot.applied, niceOneShot }));`;
    const r = await runNodeAs(65534, ['--input-type=module', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string | number>;
    expect(out).toMatchObject({ niceAfterHigh: 0, niceAfterLow: 0, niceOneShot: 10 });
    expect(out['high']).toMatch(/^high: nice 0 \(-5 refused: EACCES, needs CAP_SYS_NICE\), I\/O best-effort\/0 on \d+ threads$/);
    expect(out['low']).toMatch(/^low: nice 0 \(left alone: without CAP_SYS_NICE it could not be put back to 0 after the job\), I\/O idle/);
    expect(out['oneShot']).toMatch(/^low: nice 10, I\/O idle/);
  });
});

function runNodeAs(uid: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { uid, gid: uid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
