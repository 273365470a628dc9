import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A subscription's stream, read from the catalog: every `pollMs` it reads the state,
 * yields it when it changed, and ends after yielding a final one. Reading the catalog
 * (not events in this process) follows operations started anywhere: by this server, the
 * CLI, a timer. A first read that throws (an unknown id) fails the subscription at once.
 */
export async function* pollChanges<T>(read: () => T, isFinal: (state: T) => boolean, pollMs: number): AsyncGenerator<T> {
  let last: string | undefined;
  for (;;) {
    const state = read();
    const seen = JSON.stringify(state);
    if (seen !== last) {
      last = seen;
      yield state;
    }
    if (isFinal(state)) return;
    await sleep(pollMs);
  }
}
