import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { type S3Server, startS3Server } from '../helpers/s3-server.js';
import { describeTree } from '../helpers/tree-compare.js';

describe('backing up to an S3 destination (s3rver) next to a local one', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let s3: S3Server;
  let src: string;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-s3e2e-');
    s3 = await startS3Server('backups');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'a'), { recursive: true });
    for (let i = 0; i < 50; i++) await writeFile(join(src, 'a', `f${i}`), randomBytes(1000 + i * 100));
    await writeFile(join(src, 'big.bin'), randomBytes(20 * 1024 * 1024));
    ws = await makeWorkspace(tmp.path, [src], {
      destinations: [
        { name: 'offsite', type: 's3', priority: 1, config: { bucket: 'backups', prefix: 'prod', endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
        { name: 'local', type: 'local', priority: 2, encryption: false, config: { path: join(tmp.path, 'repo') } },
        // GCS goes through its S3-compatible XML API; pointed at s3rver, the same wire protocol is exercised.
        {
          name: 'gcs',
          type: 'gcs',
          priority: 3,
          compression: { enabled: true, algorithm: 'brotli' },
          config: { bucket: 'backups', prefix: 'gcs', endpoint: s3.endpoint, hmacAccessId: 'S3RVER', hmacSecret: 'S3RVER' },
        },
      ],
    });
  });
  afterAll(async () => {
    await s3?.stop();
    await tmp.cleanup();
  });

  it('writes a snapshot to each destination and restores from S3 identically', async () => {
    const run = await ws.run(['--json', 'backup', 'run']);
    expect(run.code, run.stderr).toBe(0);
    // Node 20 is supported (package.json engines): the AWS SDK's notice that it will need 22 is not ours to print.
    expect(run.stderr).not.toMatch(/node >=22|NodeVersion/);
    const result = JSON.parse(run.stdout) as { backups: { destination: string; snapshotId: string }[] };
    expect(result.backups.map((b) => b.destination).sort()).toEqual(['gcs', 'local', 'offsite']);

    // One read, chunk and hash pass for all three: the same tree lands in each repository.
    const shown = await Promise.all(
      result.backups.map(async (b) => JSON.parse((await ws.run(['--json', 'backup', 'show', b.snapshotId, '--destination', b.destination])).stdout) as { backup: { id: string } }),
    );
    expect(shown).toHaveLength(3);
    const logs = JSON.parse((await ws.run(['--json', 'backup', 'logs', (JSON.parse(run.stdout) as { runId: string }).runId])).stdout) as { logs: { message: string }[] };
    expect(logs.logs.filter((l) => /^files → /.test(l.message) && /: full$/.test(l.message)).map((l) => l.message)).toEqual(['files → offsite, local, gcs: full']);

    const listed = JSON.parse((await ws.run(['--json', 'backup', 'list', '--destination', 'offsite'])).stdout) as { id: string }[];
    expect(listed.map((b) => b.id)).toEqual([result.backups.find((b) => b.destination === 'offsite')!.snapshotId]);

    // Encrypted on S3, unencrypted on local: each restores the same tree on its own.
    const original = await describeTree(Buffer.from(src));
    for (const from of ['offsite', 'local']) {
      const target = join(tmp.path, `restored-${from}`);
      const restore = await ws.run(['restore', '--from', from, '--target', target, '--verify']);
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.stderr).toMatch(new RegExp(`from ${from}`));
      const restored = await describeTree(Buffer.from(join(target, src)));
      for (const [key, facts] of original) expect(restored.get(key), `${from}: ${key}`).toEqual(facts);
    }

    const status = JSON.parse((await ws.run(['--json', 'backup', 'status'])).stdout) as {
      rule321: { copies: number; media: number; offsite: number; met: boolean };
      destinations: { name: string; type: string; encrypted: boolean; offsite: boolean; storedBytes: number }[];
    };
    expect(status.destinations.map((d) => [d.name, d.type, d.encrypted, d.offsite])).toEqual([
      ['offsite', 's3', true, true],
      ['local', 'local', false, false],
      ['gcs', 'gcs', true, true],
    ]);
    expect(status.rule321).toEqual({ copies: 4, media: 3, offsite: 2, met: true });
    expect(status.destinations[0]!.storedBytes).toBeGreaterThan(20 * 1024 * 1024);
  });

  it('a destination that fails makes the run exit 3, with a usable snapshot on the others and a clear line about S3', async () => {
    s3.kill();
    const human = await ws.run(['backup', 'run', '--destination', 'offsite', '--destination', 'local']);
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(/offsite .*S3 bucket backups\/prod \(destination offsite\)/);
    // Without --from, the restore falls over from the unreachable S3 (priority 1) to local, saying so.
    const localRestore = await ws.run(['restore', '--target', join(tmp.path, 'after-failure'), '--verify']);
    expect(localRestore.code, localRestore.stderr).toBe(0);
    expect(localRestore.stderr).toMatch(/destination offsite unreachable .*trying the next one/);
    expect(localRestore.stderr).toMatch(/from local/);

    const run = await ws.run(['--json', 'backup', 'run']);
    expect(run.code).toBe(3);
    const result = JSON.parse(run.stdout) as { status: string; backups: { destination: string }[]; failures: { destination: string; error: string }[] };
    expect(result.status).toBe('partial');
    expect(result.backups.map((b) => b.destination)).toEqual(['local']);
    expect(result.failures.map((f) => f.destination).sort()).toEqual(['gcs', 'offsite']);
    expect(result.failures[0]!.error).toMatch(/offsite/);
    await s3.restart();
  });
});
