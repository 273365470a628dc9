import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A subscription's stream, read from the catalog: every `pollMs` it reads the state,
 * yields it when it changed, and ends after yielding a final one. Reading the catalog
 * (not events in this process) follows operations started anywhere: by this server, the
 * CLI, a timer.
 *
 * An iterator object rather than a generator: a client that goes away calls `return()`,
 * which a generator parked in its sleep would only see at its next yield (never, for an
 * execution that waits for an approval); here it ends the sleep at once. `stop` ends
 * every stream (the server's shutdown).
 */
export function pollChanges<T>(read: () => T, isFinal: (state: T) => boolean, pollMs: number, stop: AbortSignal): AsyncIterableIterator<T> {
  const ended = new AbortController();
  const signal = AbortSignal.any([stop, ended.signal]);
  let last: string | undefined;
  let first = true;
  let done = false;
  const finished = (): IteratorResult<T> => ({ value: undefined, done: true });
  return {
    async next(): Promise<IteratorResult<T>> {
      while (!done) {
        if (!first) await sleep(pollMs, undefined, { signal }).catch(() => (done = true));
        first = false;
        if (done || signal.aborted) break;
        const state = read();
        if (isFinal(state)) done = true;
        const seen = JSON.stringify(state);
        if (seen !== last) {
          last = seen;
          return { value: state, done: false };
        }
      }
      done = true;
      return finished();
    },
    async return(): Promise<IteratorResult<T>> {
      done = true;
      ended.abort();
      return finished();
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
