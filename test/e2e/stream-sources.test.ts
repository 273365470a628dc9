import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, type CliResult, makeTempDir, makeWorkspace, repoRoot } from '../helpers/cli.js';

/**
 * Inserts batches of rows into a WAL database until SIGTERM, yielding to the event
 * loop between batches so the signal is handled between transactions; prints
 * `writing` after its first commit and its row total when it stops.
 */
const WRITER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.pragma('busy_timeout = 10000');
const insert = db.prepare('INSERT INTO events (body) VALUES (?)');
const batch = db.transaction(() => { for (let i = 0; i < 50; i++) insert.run('w'.repeat(300) + Math.random()); });
let stop = false;
let batches = 0;
process.on('SIGTERM', () => { stop = true; });
const tick = () => {
  if (stop) { db.close(); process.stdout.write('stopped ' + batches + '\\n'); return; }
  batch();
  if (++batches === 1) process.stdout.write('writing\\n');
  setImmediate(tick);
};
tick();
`;

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;

/** Like `ws.run`, but kills the CLI after `ms`: a backup that cannot finish must fail the test, not hang it. */
function runWithDeadline(ws: Workspace, args: string[], ms: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, ...args], {
      cwd: dirname(ws.config),
      env: { ...process.env, NO_COLOR: '1', ...ws.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: ms,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr: signal === 'SIGKILL' ? `${stderr}(killed after ${ms} ms)` : stderr }));
  });
}

describe('stream sources end to end', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Workspace;
  let dbPath: string;
  const piped = () => join(tmp.path, 'piped.txt');
  // Bytes that are not UTF-8 and a NUL, so a text conversion anywhere would show.
  const command = "printf 'bkdr stream test\\n\\000\\377\\376 raw bytes\\n'; seq 1 200000";

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-streams-');
    dbPath = join(tmp.path, 'app.db');
    ws = await makeWorkspace(tmp.path, [], {
      sources: {
        sq: { type: 'sqlite', path: dbPath },
        cmd: { type: 'command', command, filename: 'out.txt', restoreCommand: `cat > '${piped()}'` },
        broken: { type: 'command', command: 'echo partial; exit 3' },
      },
    });
  });
  afterAll(() => tmp.cleanup());

  it('takes a consistent SQLite backup while another process keeps inserting', { timeout: 30_000 }, async () => {
    // Big enough (several thousand pages) that the online backup copies it in many steps.
    const setup = new Database(dbPath);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = setup.prepare('INSERT INTO events (body) VALUES (?)');
    setup.transaction(() => {
      for (let i = 0; i < 40_000; i++) insert.run(`seed ${i} ${'s'.repeat(300)}`);
    })();
    setup.close();

    const writer: ChildProcess = spawn(process.execPath, ['-e', WRITER, dbPath], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let writerOut = '';
    let writerErr = '';
    writer.stdout!.on('data', (d: Buffer) => (writerOut += d.toString()));
    writer.stderr!.on('data', (d: Buffer) => (writerErr += d.toString()));
    const writerExited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
    try {
      await expect.poll(() => writerOut + writerErr, { timeout: 10_000 }).toMatch(/writing|Error/);
      expect(writerErr).toBe('');

      const backup = await runWithDeadline(ws, ['backup', 'run', '--source', 'sq'], 15_000);
      expect(backup.code, backup.stderr).toBe(0);
      // Still writing when the backup ended: the backup really overlapped the writes.
      expect(writer.exitCode).toBeNull();
    } finally {
      writer.kill('SIGTERM');
    }
    expect(await writerExited, writerErr).toBe(0);
    expect(writerOut).toMatch(/stopped \d+/);

    const target = join(tmp.path, 'sqlite-restored');
    const restore = await ws.run(['restore', '--source', 'sq', '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);

    const original = new Database(dbPath, { readonly: true });
    const finalCount = (original.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    original.close();
    const restored = new Database(join(target, 'app.db'));
    try {
      expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
      const count = (restored.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
      expect(count).toBeGreaterThanOrEqual(40_000);
      expect(count).toBeLessThanOrEqual(finalCount);
      // Whole transactions only: the writer commits 50 rows at a time.
      expect((count - 40_000) % 50).toBe(0);
    } finally {
      restored.close();
    }
  });

  it("pipes a command source's backup into its restoreCommand, byte for byte", async () => {
    const expected = execFileSync('/bin/sh', ['-c', command], { maxBuffer: 16 * 1024 * 1024 });
    const backup = await ws.run(['backup', 'run', '--source', 'cmd']);
    expect(backup.code, backup.stderr).toBe(0);

    const pipe = await ws.run(['restore', '--source', 'cmd', '--pipe']);
    expect(pipe.code, pipe.stderr).toBe(0);
    expect((await readFile(piped())).equals(expected)).toBe(true);

    const target = join(tmp.path, 'cmd-restored');
    const restore = await ws.run(['restore', '--source', 'cmd', '--target', target]);
    expect(restore.code, restore.stderr).toBe(0);
    expect((await readFile(join(target, 'out.txt'))).equals(expected)).toBe(true);
  });

  it('makes no backup of a command that exits non-zero, and says which source failed', async () => {
    const run = await ws.run(['backup', 'run', '--source', 'broken']);
    expect(run.code).toBe(1);
    const errors = run.stderr.split('\n').filter((l) => /error|exit/i.test(l));
    expect(errors, run.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: broken → local: source broken: \/bin\/sh exited with 3$/);

    const list = await ws.run(['--json', 'backup', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const sources = (JSON.parse(list.stdout) as { source: string }[]).map((b) => b.source);
    expect(sources).not.toContain('broken');
  });
});
