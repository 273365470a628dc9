import { describe, expect, it } from 'vitest';
import { deadlineSignal, untilAborted } from '../../src/core/deadline-signal.js';
import { collectGarbage } from '../helpers/collect-garbage.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('deadlineSignal', () => {
  it('aborts at its deadline with a TimeoutError, even when a collection runs before it', async () => {
    // AbortSignal.any([signal, AbortSignal.timeout(50)]) fails this on Node 20: the collection takes the timeout signal.
    let reason: unknown;
    deadlineSignal(new AbortController().signal, 50).signal.addEventListener('abort', (e) => (reason = (e.target as AbortSignal).reason));
    await pause(10);
    collectGarbage();
    await pause(150);
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('TimeoutError');
    expect((reason as DOMException).message).toBe('no answer within 50 ms');
  });

  it('aborts with the outer reason, already aborted or later, and clear stops the deadline', async () => {
    const already = new AbortController();
    already.abort(new Error('stopped before'));
    expect(deadlineSignal(already.signal, 10_000).signal.reason).toEqual(new Error('stopped before'));

    const outer = new AbortController();
    const d = deadlineSignal(outer.signal, 10_000);
    outer.abort(new Error('interrupted'));
    expect(d.signal.reason).toEqual(new Error('interrupted'));
    d.clear();

    const cleared = deadlineSignal(outer.signal, 20);
    cleared.clear();
    await pause(60);
    expect(cleared.signal.aborted).toBe(true); // the outer one was already aborted
    const fresh = deadlineSignal(new AbortController().signal, 20);
    fresh.clear();
    await pause(60);
    expect(fresh.signal.aborted).toBe(false);
  });
});

describe('untilAborted', () => {
  it('settles with the work, or rejects at the abort when the work ignores the signal', async () => {
    const controller = new AbortController();
    await expect(untilAborted(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error('refused')), controller.signal)).rejects.toThrow('refused');
    const never = new Promise<never>(() => undefined);
    const waiting = untilAborted(never, controller.signal);
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await expect(untilAborted(Promise.resolve(1), controller.signal)).rejects.toThrow('gave up');
  });
});
