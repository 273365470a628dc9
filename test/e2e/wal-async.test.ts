import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../src/core/process-alive.js';
import { walClientPath } from '../../src/core/package-root.js';
import { makeTempDir, makeWorkspace, runBkdr, runProgram } from '../helpers/cli.js';
import { stopSpoolWorkers } from '../helpers/wal-spool.js';

/** 1 MiB "segments", half of each incompressible, named as PostgreSQL names 1 MiB segments. */
const SEGMENT_BYTES = 2 ** 20;
const segName = (n: number) => `00000001${'0'.repeat(8)}${n.toString(16).toUpperCase().padStart(8, '0')}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}
const workerPid = async (spool: string, kind: string) => Number(await readFile(join(spool, kind, 'worker.pid'), 'utf8').catch(() => '0'));

/** The two commands PostgreSQL can run per file: bkdr itself (answered before its CLI loads) and native bkdr-wal. */
const clients = [
  ['bkdr', (ws: Workspace, args: string[], env: NodeJS.ProcessEnv = {}) => runBkdr(['-c', ws.config, ...args], { cwd: dirname(ws.config), env: { ...ws.env, ...env } })],
  [
    'bkdr-wal',
    (ws: Workspace, args: string[], env: NodeJS.ProcessEnv = {}) =>
      runProgram(walClientPath(), ['-c', ws.config, ...args], { cwd: dirname(ws.config), env: { ...ws.env, BKDR_NODE: process.execPath, ...env } }),
  ],
] as const;
type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;

describe.each(clients)('wal push/fetch --async through %s: one worker per spool, a command per segment', (_, client) => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Workspace;
  let pgWal: string;
  let spool: string;
  const segments = new Map<string, Buffer>();

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-walasync-');
    ws = await makeWorkspace(tmp.path, [], { sources: { database: { type: 'postgres', mode: 'physical' } }, compression: { enabled: true, algorithm: 'lz4' } });
    pgWal = join(tmp.path, 'pg_wal');
    spool = join(tmp.path, 'spool');
    await mkdir(join(pgWal, 'archive_status'), { recursive: true });
    for (let n = 1; n <= 6; n++) {
      const data = Buffer.concat([randomBytes(SEGMENT_BYTES / 2), Buffer.alloc(SEGMENT_BYTES / 2, n)]);
      segments.set(segName(n), data);
      await writeFile(join(pgWal, segName(n)), data);
      await writeFile(join(pgWal, 'archive_status', `${segName(n)}.ready`), '');
    }
  });
  afterEach(async () => {
    await stopSpoolWorkers(spool);
    await tmp.cleanup();
  });

  /** As PostgreSQL's archiver: the command per ready segment, in order; .ready becomes .done on exit 0. */
  const archive = async (name: string) => {
    const r = await client(ws, ['-q', 'wal', 'push', '--async', '--spool', spool, join(pgWal, name)]);
    if (r.code === 0) await rename(join(pgWal, 'archive_status', `${name}.ready`), join(pgWal, 'archive_status', `${name}.done`));
    return r;
  };

  it('stores ready segments ahead of being asked, acknowledges each once stored, and leaves the spool empty', async () => {
    const first = await archive(segName(1));
    expect(first.code, first.stderr).toBe(0);
    // Not asked for yet: the worker stored it because PostgreSQL marked it ready.
    await until('the last ready segment is acknowledged ahead', () => existsSync(join(spool, 'push', `${segName(6)}.ok`)));
    for (let n = 2; n <= 6; n++) {
      const r = await archive(segName(n));
      expect(r.code, r.stderr).toBe(0);
    }
    const verify = await ws.run(['--json', 'wal', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ files: 6, first: segName(1), last: segName(6), gaps: [] });
    // Idle, the worker ends by itself and nothing is left to be misread by the next one.
    const pid = await workerPid(spool, 'push');
    await until('the push worker ends', () => !processAlive(pid), 20_000);
    expect(readdirSync(join(spool, 'push')).filter((f) => !['queue', 'worker.pid', 'worker.log'].includes(f))).toEqual([]);
    expect(readdirSync(join(spool, 'push', 'queue'))).toEqual([]);

    // Replay: each fetch hands over the verified bytes; the next segments are staged before they are asked for.
    const target = join(tmp.path, 'RECOVERYXLOG');
    const fetch = (name: string) => client(ws, ['-q', 'wal', 'fetch', '--async', '--spool', spool, '--prefetch', '3', name, target]);
    const r1 = await fetch(segName(1));
    expect(r1.code, r1.stderr).toBe(0);
    expect((await readFile(target)).equals(segments.get(segName(1))!)).toBe(true);
    await until('the next segments are staged', () => existsSync(join(spool, 'fetch', segName(2))) && existsSync(join(spool, 'fetch', segName(4))));
    for (let n = 2; n <= 6; n++) {
      const r = await fetch(segName(n));
      expect(r.code, r.stderr).toBe(0);
      expect((await readFile(target)).equals(segments.get(segName(n))!), segName(n)).toBe(true);
    }
    // The end of the archive: not archived is exit 1, as restore_command's contract says.
    const past = await fetch(segName(7));
    expect(past.code).toBe(1);
    const fetcher = await workerPid(spool, 'fetch');
    await stopSpoolWorkers(spool);
    expect(processAlive(fetcher)).toBe(false);
    expect(readdirSync(join(spool, 'fetch')).filter((f) => !['want', 'worker.pid', 'worker.log'].includes(f))).toEqual([]);
  }, 60_000);

  it('refuses other content under an archived name with its one-line error, and acknowledges nothing', async () => {
    expect((await archive(segName(1))).code).toBe(0);
    await stopSpoolWorkers(spool);
    await writeFile(join(pgWal, segName(1)), randomBytes(SEGMENT_BYTES));
    const r = await client(ws, ['-q', 'wal', 'push', '--async', '--spool', spool, join(pgWal, segName(1))]);
    expect(r.code).toBe(5);
    expect(r.stderr.trim()).toMatch(/^bkdr: WAL file 000000010000000000000001 of database is already archived on local with different content$/);
    expect(existsSync(join(spool, 'push', `${segName(1)}.ok`))).toBe(false);
  }, 60_000);

  it('says why the worker cannot start (a wrong password) in one line, with its exit code', async () => {
    expect((await archive(segName(1))).code).toBe(0);
    await stopSpoolWorkers(spool);
    // A segment the first worker did not store ahead (none of its .ok answers it).
    await writeFile(join(pgWal, segName(7)), randomBytes(1024));
    const r = await client(ws, ['-q', 'wal', 'push', '--async', '--spool', spool, join(pgWal, segName(7))], { BKDR_PASSWORD: 'wrong' });
    expect(r.code, `${r.stdout}${r.stderr}${readdirSync(join(spool, 'push')).join(',')}`).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^bkdr: .*(password|key)/i);
    // A replay that cannot read the archive stops (255), rather than ending as if the archive had.
    const fetched = await client(ws, ['-q', 'wal', 'fetch', '--async', '--spool', spool, segName(1), join(tmp.path, 'RECOVERYXLOG')], { BKDR_PASSWORD: 'wrong' });
    expect(fetched.code).toBe(255);
    expect(fetched.stderr).toMatch(/^bkdr: .*(password|key)/i);
    // A config the worker cannot read is said the same way, not waited out.
    const broken = join(tmp.path, 'broken.json');
    await writeFile(broken, '{ not json');
    const r2 = await client({ ...ws, config: broken }, ['-q', 'wal', 'fetch', '--async', '--spool', join(tmp.path, 'spool2'), segName(1), join(tmp.path, 'RECOVERYXLOG')]);
    expect(r2.code).toBe(255);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    await stopSpoolWorkers(join(tmp.path, 'spool2'));
  }, 60_000);

  it('takes its lock from the kernel: a worker.pid naming a live process that is not a worker does not stop archiving', async () => {
    await mkdir(join(spool, 'push'), { recursive: true });
    // What a crash and a reboot leave: the pid of some other live process (here, this test's).
    await writeFile(join(spool, 'push', 'worker.pid'), String(process.pid));
    const r = await archive(segName(1));
    expect(r.code, r.stderr).toBe(0);
    expect(await workerPid(spool, 'push')).not.toBe(process.pid);
  }, 60_000);

  it('loses nothing when the worker is killed: the next command starts another, and every segment is archived', async () => {
    expect((await archive(segName(1))).code).toBe(0);
    const pid = await workerPid(spool, 'push');
    process.kill(pid, 'SIGKILL');
    await until('the worker is gone', () => !processAlive(pid));
    // Killed between storing and acknowledging: its lock is stale and no .ok says what it stored.
    for (const f of readdirSync(join(spool, 'push'))) if (f.endsWith('.ok')) await rm(join(spool, 'push', f));
    for (let n = 2; n <= 6; n++) {
      const r = await archive(segName(n));
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await workerPid(spool, 'push')).not.toBe(pid);
    const verify = await ws.run(['--json', 'wal', 'verify']);
    expect(JSON.parse(verify.stdout)).toMatchObject({ files: 6, gaps: [] });
  }, 60_000);

  it('hands over no damaged segment: the fetch fails and nothing is written or staged', async () => {
    for (let n = 1; n <= 3; n++) expect((await archive(segName(n))).code).toBe(0);
    await stopSpoolWorkers(spool);
    const stored = join(ws.repo, 'wal', 'database', segName(2));
    const bytes = await readFile(stored);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(stored, bytes);
    const target = join(tmp.path, 'RECOVERYXLOG');
    const fetch = (name: string) => client(ws, ['-q', 'wal', 'fetch', '--async', '--spool', spool, name, target]);
    expect((await fetch(segName(1))).code).toBe(0);
    const r = await fetch(segName(2));
    // Not "not archived" (1), which would end a recovery here: a code above 125 stops it.
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/damaged/);
    expect((await readFile(target)).equals(segments.get(segName(1))!)).toBe(true);
    expect(existsSync(join(spool, 'fetch', segName(2)))).toBe(false);
  }, 60_000);
});
