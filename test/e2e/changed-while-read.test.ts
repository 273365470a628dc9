import { randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

const MiB = 1024 * 1024;

/** Writes `blocks` copies of `block`: a large file that dedups to one block's worth of repository. */
async function writeRepeated(path: string, block: Buffer, blocks: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (let i = 0; i < blocks; i++) await handle.write(block);
  } finally {
    await handle.close();
  }
}

/** Whether the file at `path` is exactly the first `length` bytes of `block` repeated. */
async function isPrefixOfRepeated(path: string, block: Buffer, length: number): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    if ((await handle.stat()).size !== length) return false;
    const buf = Buffer.alloc(block.length);
    for (let position = 0; position < length; position += block.length) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, position);
      if (!buf.subarray(0, bytesRead).equals(block.subarray(0, bytesRead))) return false;
    }
    return true;
  } finally {
    await handle.close();
  }
}

describe('a file that changes while backup run reads it', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-changed-while-read-');
  });
  afterAll(() => tmp.cleanup());

  it('is recorded, restored and verified as what was read when it is truncated mid-read, and the run warns and exits 3', async () => {
    const src = join(tmp.path, 'src');
    await mkdir(src);
    const file = join(src, 'shrinking.bin');
    const block = randomBytes(MiB);
    // The run's first progress line comes once the first chunk is stored: a file this large is
    // then far from read. Were it read already, the size checks below fail; they never pass by luck.
    const blocks = 400;
    await writeRepeated(file, block, blocks);
    const ws = await makeWorkspace(tmp.path, [src]);

    // Truncated by another process as soon as the run says it has read part of the file.
    let readWhenTruncated: number | undefined;
    const run = await runBkdr(['-c', ws.config, '--json', 'backup', 'run'], {
      cwd: tmp.path,
      env: ws.env,
      onStderrLine: (line) => {
        if (readWhenTruncated !== undefined || !line.startsWith('{')) return;
        const event = JSON.parse(line) as { type: string; bytesRead?: number };
        if (event.type !== 'progress' || !event.bytesRead) return;
        truncateSync(file, 10 * MiB);
        readWhenTruncated = event.bytesRead;
      },
    });
    expect(readWhenTruncated, 'the file was truncated while it was read').toBeLessThan(blocks * MiB);
    expect(run.code, run.stderr).toBe(3);
    const warnings = run.stderr
      .split('\n')
      .filter((l) => l.includes('"type":"warning"'))
      .map((l) => JSON.parse(l) as { path: string; message: string });
    expect(warnings).toEqual([expect.objectContaining({ path: file, message: 'file changed while it was read; the snapshot holds what was read' })]);
    const snapshotId = (JSON.parse(run.stdout) as { backups: { snapshotId: string }[] }).backups[0]!.snapshotId;

    // What is restored is what was read: a prefix of the original, with no zeros after it.
    const target = join(tmp.path, 'restored');
    const restore = await ws.run(['restore', snapshotId, '--target', target, '--verify']);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/verified 1 files: all match/);
    const restored = (await stat(join(target, file))).size;
    expect(restored).toBeGreaterThanOrEqual(10 * MiB);
    expect(restored).toBeLessThan(blocks * MiB);
    expect(await isPrefixOfRepeated(join(target, file), block, restored)).toBe(true);
    // And the snapshot records that size, not the one the file had when the run began.
    const shown = JSON.parse((await ws.run(['--json', 'backup', 'show', snapshotId, '--ls', src])).stdout) as { entries: { path: string; size: number }[] };
    expect(shown.entries.find((e) => e.path === file)!.size).toBe(restored);

    const verify = await ws.run(['backup', 'verify', '--test-restore']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/test restore of [0-9a-f]{8} \(files\): 1 files, .*, all match/);
    expect(verify.stdout).toMatch(/: clean$/m);
  });
});
