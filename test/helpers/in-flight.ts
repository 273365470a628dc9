/**
 * `fn` wrapped to count its calls in flight, for tests of a concurrency bound: `most` is the
 * highest count seen. Calls `counts` turns down go straight through, uncounted; `holdMs`
 * keeps each counted call waiting that long before `fn`, so that calls overlap.
 */
export function countInFlight<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  opts: { counts?: (...args: A) => boolean; holdMs?: number } = {},
): { call: (...args: A) => Promise<R>; readonly most: number } {
  let now = 0;
  let most = 0;
  return {
    call: async (...args) => {
      if (opts.counts && !opts.counts(...args)) return fn(...args);
      most = Math.max(most, ++now);
      try {
        if (opts.holdMs) await new Promise((resolve) => setTimeout(resolve, opts.holdMs));
        return await fn(...args);
      } finally {
        now--;
      }
    },
    get most() {
      return most;
    },
  };
}
