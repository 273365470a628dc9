import { describe, expect, it } from 'vitest';
import { pollChanges } from '../../src/server/schema/poll-changes.js';

describe('pollChanges', () => {
  it('yields each change once and ends after the final state', async () => {
    const states = ['running', 'running', 'halfway', 'succeeded'];
    let i = 0;
    const seen: string[] = [];
    for await (const s of pollChanges(
      () => states[Math.min(i++, states.length - 1)]!,
      (s) => s === 'succeeded',
      5,
      new AbortController().signal,
    ))
      seen.push(s);
    expect(seen).toEqual(['running', 'halfway', 'succeeded']);
  });

  it('a client that leaves ends the wait at once and reads nothing more', async () => {
    let reads = 0;
    const stream = pollChanges(
      () => (reads++, 'waiting-approval'),
      () => false,
      60_000,
      new AbortController().signal,
    );
    expect((await stream.next()).value).toBe('waiting-approval');
    const pending = stream.next();
    const started = Date.now();
    await stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(reads).toBe(1);
  });

  it('the host’s stop ends every stream', async () => {
    const stop = new AbortController();
    const stream = pollChanges(
      () => 'running',
      () => false,
      60_000,
      stop.signal,
    );
    await stream.next();
    const pending = stream.next();
    stop.abort();
    expect(await pending).toEqual({ value: undefined, done: true });
  });
});
