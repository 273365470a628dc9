import { describe, expect, it } from 'vitest';
import { SharedBatches } from '../../src/core/shared-batches.js';
import { Slots } from '../../src/core/slots.js';

/** SharedBatches whose work is recorded, and finished only when the test says. */
function recorded(limits: { items: number; weight: number }, slots = new Slots(4)) {
  const started: string[][] = [];
  const finish: (() => void)[] = [];
  const batches = new SharedBatches<string>(limits, slots, (items) => {
    started.push([...items]);
    return new Promise<void>((resolve) => finish.push(resolve));
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

  it('keeps taking items into a batch sent while it waits for a slot, and starts it whole when one frees', async () => {
    const slots = new Slots(1);
    const { batches, started, finish } = recorded({ items: 3, weight: 100 }, slots);
    await batches.send(await batches.add('a', 1));
    const waiting = await batches.add('b', 1);
    const sending = batches.send(waiting);
    expect(await batches.add('c', 1)).toBe(waiting);
    expect(await batches.add('d', 1)).toBe(waiting);
    // Full while it waits: the next item starts the next batch.
    expect(await batches.add('e', 1)).not.toBe(waiting);
    expect(started).toEqual([['a']]);
    finish[0]!();
    await sending;
    expect(started).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('sends soon: callers of one turn of the event loop share the send', async () => {
    const { batches, started } = recorded({ items: 10, weight: 100 });
    const batch = await batches.add('a', 1);
    const soon = batches.sendSoon(batch);
    expect(batches.sendSoon(batch)).toBe(soon);
    await batches.add('b', 1);
    await soon;
    expect(started).toEqual([['a', 'b']]);
    await batches.sendSoon(batch);
    expect(started).toEqual([['a', 'b']]);
  });
});
