import { describe, expect, it } from 'vitest';
import { SmallFileBatches } from '../../src/backup/small-file-batches.js';

/** A batcher whose batches run until the test lets them finish, one by one, in the order they started. */
function held(limits: { inFlight: number; files: number; bytes: number }) {
  const started: string[][] = [];
  const finishers: (() => void)[] = [];
  const batches = new SmallFileBatches<string>(limits, async (items) => {
    started.push(items);
    await new Promise<void>((resolve) => finishers.push(resolve));
  });
  const finishNext = async () => {
    finishers.shift()!();
    await settle();
  };
  return { batches, started, finishNext };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SmallFileBatches', () => {
  it('fills one batch from several directories and starts it once someone needs it', async () => {
    const { batches, started, finishNext } = held({ inFlight: 2, files: 10, bytes: 1 << 20 });
    const first = batches.add('a/1', 10);
    const again = batches.add('a/2', 10);
    const other = batches.add('b/1', 10);
    expect(again).toBe(first);
    expect(other).toBe(first);
    await settle();
    expect(started).toEqual([]);

    await batches.need(first);
    expect(started).toEqual([['a/1', 'a/2', 'b/1']]);
    let done = false;
    void first.done.then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    await finishNext();
    expect(done).toBe(true);
  });

  it("starts a needed batch once the event loop's turn is over, with the files others added in that turn", async () => {
    const { batches, started } = held({ inFlight: 2, files: 10, bytes: 1 << 20 });
    const mine = batches.add('a/1', 10);
    const needed = batches.need(mine);
    // Another walk, resumed in the same turn (an I/O completion), lists its directory.
    await Promise.resolve();
    expect(batches.add('b/1', 10)).toBe(mine);
    expect(started).toEqual([]);
    await needed;
    expect(started).toEqual([['a/1', 'b/1']]);
    expect(batches.add('c/1', 10)).not.toBe(mine);
  });

  it('starts a full batch at once, by files or by bytes', async () => {
    const { batches, started } = held({ inFlight: 4, files: 2, bytes: 100 });
    batches.add('1', 1);
    batches.add('2', 1);
    batches.add('big', 100);
    await settle();
    expect(started).toEqual([['1', '2'], ['big']]);
  });

  it('keeps a needed batch open while no slot is free, and starts it with what joined it meanwhile', async () => {
    const { batches, started, finishNext } = held({ inFlight: 1, files: 100, bytes: 1 << 20 });
    await batches.need(batches.add('first', 1));
    await settle();
    expect(started).toEqual([['first']]);

    const waiting = batches.add('a', 1);
    let waitingStarted = false;
    void batches.need(waiting).then(() => (waitingStarted = true));
    const joined = batches.add('b', 1);
    expect(joined).toBe(waiting);
    await settle();
    expect(started).toHaveLength(1);
    expect(waitingStarted).toBe(false);

    await finishNext();
    expect(started).toEqual([['first'], ['a', 'b']]);
    expect(waitingStarted).toBe(true);
    // Started: later files go into a new batch.
    expect(batches.add('c', 1)).not.toBe(waiting);
  });

  it('has whoever fills a batch wait for a slot to take it, full batches first', async () => {
    const { batches, started, finishNext } = held({ inFlight: 1, files: 2, bytes: 1 << 20 });
    batches.add('1', 1);
    const first = batches.add('2', 1);
    expect(first.full).toBe(true);
    await first.started;
    const needed = batches.add('3', 1);
    expect(needed.full).toBe(false);
    void batches.need(needed);
    // Fills the needed batch: full now, it waits for a slot like any full batch.
    expect(batches.add('4', 1)).toBe(needed);
    expect(needed.full).toBe(true);
    batches.add('5', 1);
    const next = batches.add('6', 1);
    const startedNow = [false, false];
    void needed.started.then(() => (startedNow[0] = true));
    void next.started.then(() => (startedNow[1] = true));
    await settle();
    expect(started).toEqual([['1', '2']]);
    expect(startedNow).toEqual([false, false]);

    await finishNext();
    expect(started).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(startedNow).toEqual([true, false]);
    await finishNext();
    expect(started).toEqual([
      ['1', '2'],
      ['3', '4'],
      ['5', '6'],
    ]);
    expect(startedNow).toEqual([true, true]);
  });

  it('forgets that a batch was needed once it filled: the next one waits to be needed or full', async () => {
    const { batches, started, finishNext } = held({ inFlight: 1, files: 2, bytes: 1 << 20 });
    await batches.need(batches.add('running', 1));
    const needed = batches.add('x1', 1);
    void batches.need(needed);
    batches.add('x2', 1);
    expect(needed.full).toBe(true);
    const next = batches.add('y', 1);
    expect(next).not.toBe(needed);

    await finishNext();
    expect(started).toEqual([['running'], ['x1', 'x2']]);
    await finishNext();
    expect(started).toEqual([['running'], ['x1', 'x2']]);
    await batches.need(next);
    expect(started).toEqual([['running'], ['x1', 'x2'], ['y']]);
  });

  it('needs nothing of a batch already on its way', async () => {
    const { batches, started } = held({ inFlight: 1, files: 1, bytes: 1 << 20 });
    const ticket = batches.add('1', 1);
    await settle();
    await batches.need(ticket);
    await batches.need(ticket);
    await settle();
    expect(started).toEqual([['1']]);
  });
});
