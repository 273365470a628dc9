import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { triggerSchema } from '../../../src/config/dr-schema.js';
import { silentLogger } from '../../../src/core/logger.js';
import { describeTrigger, narrowTrigger, type Firing, type LogTrigger } from '../../../src/dr/detectors/detector.js';
import { LogDetector } from '../../../src/dr/detectors/log-detector.js';
import { makeTempDir } from '../../helpers/cli.js';
import { pause, waitFor } from './wait-for.js';

const POLL_MS = 50;
/** Long enough for the detector's first poll, which marks where existing files end. */
const SETTLE_MS = 300;

function logTrigger(input: Record<string, unknown>): LogTrigger {
  return narrowTrigger(triggerSchema.parse({ type: 'log', ...input })) as LogTrigger;
}

describe('LogDetector', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let controller: AbortController;
  let running: Promise<void> | undefined;
  let firings: Firing[];

  beforeEach(async () => {
    tmp = await makeTempDir('bkdr-log-detector-');
    controller = new AbortController();
    firings = [];
    running = undefined;
  });
  afterEach(async () => {
    controller.abort();
    await running;
    await tmp.cleanup();
  });

  function start(t: LogTrigger, globs: string[]): void {
    const detector = new LogDetector('db-failure', describeTrigger(t, globs), t, globs, tmp.path, silentLogger, POLL_MS);
    running = detector.run((f) => firings.push(f), controller.signal);
  }

  it('fires on a matching line appended after it started, never on lines already in the file', async () => {
    const log = join(tmp.path, 'app.log');
    await writeFile(log, 'ERROR database corruption detected (old)\n');
    start(logTrigger({ condition: 'ERROR.*database.*corruption' }), ['*.log']);
    await pause(SETTLE_MS);
    await appendFile(log, 'INFO all fine\n');
    await pause(SETTLE_MS);
    expect(firings).toEqual([]);

    const before = new Date();
    await appendFile(log, 'ERROR database page corruption in table users\n');
    await waitFor(() => firings.length === 1, 'the matching line to fire');
    const f = firings[0]!;
    expect(f.trigger).toBe(`log ERROR.*database.*corruption in *.log`);
    expect(f.detail).toBe(`${log}: ERROR database page corruption in table users`);
    expect(f.failureAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(f.at.getTime()).toBeGreaterThanOrEqual(f.failureAt.getTime());
  });

  it('matches only complete lines: a line is matched once its newline is written', async () => {
    const log = join(tmp.path, 'app.log');
    await writeFile(log, '');
    start(logTrigger({ condition: 'FATAL$' }), [log]);
    await pause(SETTLE_MS);
    await appendFile(log, 'disk FAT');
    await pause(SETTLE_MS);
    await appendFile(log, 'AL\r\n');
    await waitFor(() => firings.length === 1, 'the completed line to fire');
    expect(firings[0]!.detail).toBe(`${log}: disk FATAL`);
  });

  it('follows rotation by rename and recreation, and truncation', async () => {
    const log = join(tmp.path, 'app.log');
    await writeFile(log, 'a long line that makes the file bigger than what is written after truncation\n');
    start(logTrigger({ condition: 'PANIC' }), [log]);
    await pause(SETTLE_MS);

    await rename(log, `${log}.1`);
    await writeFile(log, 'PANIC after rotation\n');
    await waitFor(() => firings.length === 1, 'the line in the recreated file to fire');
    expect(firings[0]!.detail).toBe(`${log}: PANIC after rotation`);

    await appendFile(log, 'padding padding padding padding padding padding\n');
    await pause(SETTLE_MS);
    await writeFile(log, 'PANIC 2\n');
    await waitFor(() => firings.length === 2, 'the line in the truncated file to fire');
    expect(firings[1]!.detail).toBe(`${log}: PANIC 2`);
  });

  it('reads a file that appears later and matches the glob from its start', async () => {
    await mkdir(join(tmp.path, 'logs'));
    start(logTrigger({ condition: 'OOM' }), ['logs/**/*.log']);
    await pause(SETTLE_MS);
    await mkdir(join(tmp.path, 'logs', 'worker'));
    await writeFile(join(tmp.path, 'logs', 'worker', 'w1.log'), 'boot\nkilled: OOM\n');
    await writeFile(join(tmp.path, 'logs', 'worker', 'w1.txt'), 'OOM in a file the glob does not name\n');
    await waitFor(() => firings.length === 1, 'the new file to fire');
    await pause(SETTLE_MS);
    expect(firings.map((f) => f.detail)).toEqual([`${join(tmp.path, 'logs', 'worker', 'w1.log')}: killed: OOM`]);
  });

  it('fires at `count` matches, then counts again from zero', async () => {
    const log = join(tmp.path, 'app.log');
    await writeFile(log, '');
    start(logTrigger({ condition: 'timeout', count: 3 }), [log]);
    await pause(SETTLE_MS);
    await appendFile(log, 'timeout 1\n');
    await pause(SETTLE_MS);
    await appendFile(log, 'timeout 2\nother\n');
    await pause(SETTLE_MS);
    expect(firings).toEqual([]);
    await appendFile(log, 'timeout 3\ntimeout 4\n');
    await waitFor(() => firings.length === 1, 'the third match to fire');
    // failureAt is when the first counted line was read, a poll before the third.
    expect(firings[0]!.failureAt.getTime()).toBeLessThan(firings[0]!.at.getTime());
    await appendFile(log, 'timeout 5\ntimeout 6\n');
    await waitFor(() => firings.length === 2, 'the next three matches to fire');
  });

  it('counts only the matches within `within`', async () => {
    const log = join(tmp.path, 'app.log');
    await writeFile(log, '');
    start(logTrigger({ condition: 'refused', count: 2, within: '300ms' }), [log]);
    await pause(SETTLE_MS);
    await appendFile(log, 'connection refused\n');
    await pause(1_000);
    await appendFile(log, 'connection refused\n');
    await pause(1_000);
    expect(firings).toEqual([]);
    await appendFile(log, 'connection refused\nconnection refused again\n');
    await waitFor(() => firings.length === 1, 'two matches within 300 ms to fire');
  });

  it('rejects a condition that is not a regular expression', () => {
    const t = logTrigger({ condition: 'ERROR(' });
    expect(() => new LogDetector('s', 'log ERROR(', t, ['x.log'], tmp.path, silentLogger, POLL_MS, 'scenarios[0].triggers[0]')).toThrow(
      /scenarios\[0\]\.triggers\[0\]\.condition: not a regular expression/,
    );
  });
});
