import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliContext } from '../../src/cli/context.js';
import { createProgressReporter, formatEta } from '../../src/cli/progress.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DAY_MS = 86_400_000;

describe('formatEta', () => {
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

    progress.onEvent({ type: 'start', source: 'files', destination: 'local', strategy: 'full' });
    progress.onEvent({ type: 'estimate', source: 'files', files: 10, bytes: 100 * MiB });
    vi.setSystemTime(10_000);
    progress.onEvent({ type: 'progress', source: 'files', destination: 'local', files: 5, bytes: 50 * MiB, bytesRead: 50 * MiB });
    progress.onEvent({ type: 'start', source: 'fifo', destination: 'local', strategy: 'full' });
    vi.setSystemTime(20_000);
    progress.onEvent({ type: 'progress', source: 'fifo', destination: 'local', files: 1, bytes: 100, bytesRead: 100 });
    progress.stop();

    expect(lines.find((l) => l.startsWith('files → local: 5 files'))).toContain('ETA 10.0s');
    const fifo = lines.find((l) => l.startsWith('fifo → local: 1 files'));
    expect(fifo).toBeDefined();
    expect(fifo).not.toContain('ETA');
    expect(fifo).not.toContain(' of ');
  });
});
