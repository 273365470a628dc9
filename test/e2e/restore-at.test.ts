import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

interface Listed {
  id: string;
  time: string;
  source: string;
  destination: string;
}

describe('restore --at across sources and destinations', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let dirA: string;
  let times: { t1: string; t2: string; t3: string };

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-at-');
    dirA = join(tmp.path, 'a');
    const dirB = join(tmp.path, 'b');
    await mkdir(dirA);
    await mkdir(dirB);
    ws = await makeWorkspace(tmp.path, [], {
      sources: { a: { type: 'files', paths: [dirA] }, b: { type: 'files', paths: [dirB] } },
      destinations: [
        { name: 'first', type: 'local', priority: 1, config: { path: join(tmp.path, 'first') } },
        { name: 'second', type: 'local', priority: 2, config: { path: join(tmp.path, 'second') } },
      ],
    });
    const run = async (args: string[]) => {
      const r = await ws.run(['--json', 'backup', 'run', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { backups: { snapshotId: string }[] }).backups;
    };
    await writeFile(join(dirA, 'v.txt'), 'a1');
    await writeFile(join(dirB, 'v.txt'), 'b1');
    await run([]);
    // The second backup of a reached only the second destination (as if the first had been down).
    await writeFile(join(dirA, 'v.txt'), 'a2');
    await run(['--source', 'a', '--destination', 'second']);
    await writeFile(join(dirB, 'v.txt'), 'b3');
    await run(['--source', 'b']);
    const list = JSON.parse((await ws.run(['--json', 'backup', 'list'])).stdout) as Listed[];
    const timeOf = (source: string, destination: string, n: number) =>
      list
        .filter((b) => b.source === source && b.destination === destination)
        .map((b) => b.time)
        .sort()[n]!;
    times = { t1: timeOf('a', 'first', 0), t2: timeOf('a', 'second', 1), t3: timeOf('b', 'first', 1) };
  });
  afterAll(() => tmp.cleanup());

  const restore = async (name: string, args: string[]) => {
    const target = join(tmp.path, 'r', name);
    const r = await ws.run(['restore', ...args, '--target', target]);
    return { ...r, target };
  };

  it('takes the newest backup of the source from whichever destination holds it', async () => {
    const r = await restore('newest-a', ['--source', 'a']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/from second \(newest\)/);
    expect(await readFile(join(r.target, dirA, 'v.txt'), 'utf8')).toBe('a2');
  });

  it('takes the newest at or before the time, preferring the higher-priority destination on a tie', async () => {
    const before = new Date(Date.parse(times.t2) - 1).toISOString();
    const r = await restore('a-before', ['--source', 'a', '--at', before]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`taken ${times.t1} from first`);
    expect(await readFile(join(r.target, dirA, 'v.txt'), 'utf8')).toBe('a1');

    const b = await restore('b-at', ['--source', 'b', '--at', times.t3]);
    expect(b.stderr).toContain(`taken ${times.t3} from first`);
  });

  it('asks for --source when backups of several sources match', async () => {
    const r = await restore('ambiguous', ['--at', times.t3]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/backups of several sources \(a, b\) match: pass --source/);
  });

  it('backup list --since keeps only backups taken at or after the time', async () => {
    const since = JSON.parse((await ws.run(['--json', 'backup', 'list', '--since', times.t2])).stdout) as Listed[];
    expect(since.every((b) => b.time >= times.t2)).toBe(true);
    expect(since.map((b) => `${b.source}@${b.destination}`).sort()).toEqual(['a@second', 'b@first', 'b@second']);
  });
});
