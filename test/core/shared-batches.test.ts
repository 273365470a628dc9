import { describe, expect, it } from 'vitest';
import { SharedBatches } from '../../src/core/shared-batches.js';

/** SharedBatches whose work is recorded, and finished only when the test says. */
function recorded(limits: { items: number; weight: number }) {
  const started: string[][] = [];
  const finish: (() => void)[] = [];
  const batches = new SharedBatches<string>(limits, async (items) => {
    started.push(items);
    return { done: new Promise<void>((resolve) => finish.push(resolve)) };
  });
  return { batches, started, finish };
}

describe('SharedBatches', () => {
  it('gathers items of many callers into one batch, sent when full by count or by weight', async () => {
    const { batches, started } = recorded({ items: 3, weight: 100 });
    const a = await batches.add('a1', 1);
    const b = await batches.add('b1', 1);
    expect(a).toBe(b);
    expect(started).toEqual([]);
    await batches.add('a2', 1);
    expect(started).toEqual([['a1', 'b1', 'a2']]);
    await batches.add('big', 150);
    expect(started).toEqual([['a1', 'b1', 'a2'], ['big']]);
  });

  it('sends a batch when a holder needs its items, once: later items go into the next batch', async () => {
    const { batches, started, finish } = recorded({ items: 10, weight: 100 });
    const first = await batches.add('a', 1);
    await batches.add('b', 1);
    await batches.send(first);
    await batches.send(first);
    const second = await batches.add('c', 1);
    expect(second).not.toBe(first);
    expect(started).toEqual([['a', 'b']]);
    let settled = false;
    void first.done.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    finish[0]!();
    await first.done;
    expect(settled).toBe(true);
  });

  it('settles a batch whose work could not start, and says why', async () => {
    const batches = new SharedBatches<string>({ items: 10, weight: 100 }, () => Promise.reject(new Error('no slot')));
    const batch = await batches.add('a', 1);
    await expect(batches.send(batch)).rejects.toThrow('no slot');
    await batch.done;
  });
});
