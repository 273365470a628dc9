import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackupEvent } from '../../src/backup/backup-manager.js';
import { remainingMs, withRates } from '../../src/backup/progress-meter.js';
import { CliContext } from '../../src/cli/context.js';
import { formatDuration } from '../../src/cli/format.js';
import { createProgressReporter } from '../../src/cli/progress.js';

/** The ETA as the CLI prints it, from the time left the service forecasts. */
const formatEta = (basis: Parameters<typeof remainingMs>[0]) => {
  const left = remainingMs(basis);
  return left === undefined ? undefined : `ETA ${formatDuration(left)}`;
};

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DAY_MS = 86_400_000;

describe('the time left a progress event carries', () => {
  it.each([
    // [behaviour, totalBytes, doneBytes, elapsedMs, expected]
    ['forecasts from the rate so far', 100 * MiB, 50 * MiB, 10_000, 'ETA 10.0s'],
    ['forecasts minutes', 100 * MiB, 10 * MiB, 20_000, 'ETA 3m00s'],
    ['forecasts up to seven days', 7, 1, DAY_MS, 'ETA 144h00m'],
    ['shows none beyond seven days', 9, 1, DAY_MS, undefined],
    ['shows none for a read that barely moves (a FIFO once got ETA 175046h25m)', GiB, 100, 10_000, undefined],
    ['shows none when the total cannot be known (a stream, a FIFO)', undefined, 50 * MiB, 10_000, undefined],
    ['shows none when the estimate found nothing to total', 0, 50 * MiB, 10_000, undefined],
    ['shows none before anything is done', 100 * MiB, 0, 10_000, undefined],
    ['shows none before the rate is measured over a meaningful window', 100 * MiB, 50 * MiB, 2_999, undefined],
    ['shows one once the window is long enough', 100 * MiB, 50 * MiB, 3_000, 'ETA 3.0s'],
    ['shows none once done bytes exceed the estimate', 100 * MiB, 120 * MiB, 10_000, undefined],
    ['shows none when done bytes equal the estimate', 100 * MiB, 100 * MiB, 10_000, undefined],
    ['shows none when the clock went backwards', 100 * MiB, 50 * MiB, -10_000, undefined],
    ['shows none for a total that is not finite', Infinity, 50 * MiB, 10_000, undefined],
    ['shows none for a total that is not a number', NaN, 50 * MiB, 10_000, undefined],
  ])('%s', (_behaviour, totalBytes, doneBytes, elapsedMs, expected) => {
    expect(formatEta({ totalBytes, doneBytes, elapsedMs })).toBe(expected);
  });
});

describe('the plain progress line of a backup', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("gives a stream source no ETA from the files source's total before it", async () => {
    // One clock for both: the service's measurements and the CLI's print interval.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const program = new Command();
    program.setOptionValue('color', false); // plain lines, as in a cron log, whatever stderr is
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const progress = await createProgressReporter(new CliContext(program));
    // The service measures (with its clock), the CLI renders what the events carry.
    const events: BackupEvent[] = [];
    const emit = withRates((e) => {
      events.push(e);
      progress.onEvent(e);
    }, Date.now);

    emit({ type: 'start', source: 'files', destination: 'local', strategy: 'full' });
    emit({ type: 'estimate', source: 'files', files: 10, bytes: 100 * MiB });
    vi.setSystemTime(10_000);
    emit({ type: 'progress', source: 'files', destination: 'local', files: 5, bytes: 50 * MiB, bytesRead: 50 * MiB });
    emit({ type: 'start', source: 'fifo', destination: 'local', strategy: 'full' });
    vi.setSystemTime(20_000);
    emit({ type: 'progress', source: 'fifo', destination: 'local', files: 1, bytes: 100, bytesRead: 100 });
    progress.stop();

    expect(events[2]).toMatchObject({ elapsedMs: 10_000, bytesPerSecond: 5 * MiB, totalBytes: 100 * MiB, etaMs: 10_000 });
    expect(events[4]).toMatchObject({ elapsedMs: 10_000, bytesPerSecond: 10 });
    expect(events[4]).not.toHaveProperty('etaMs');
    expect(events[4]).not.toHaveProperty('totalBytes');
    expect(lines.find((l) => l.startsWith('files → local: 5 files'))).toContain('ETA 10.0s');
    const fifo = lines.find((l) => l.startsWith('fifo → local: 1 files'));
    expect(fifo).toBeDefined();
    expect(fifo).not.toContain('ETA');
    expect(fifo).not.toContain(' of ');
  });
});
