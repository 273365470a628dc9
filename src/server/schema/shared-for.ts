/**
 * One call of `read` shared by everyone who asks while it runs and for `maxAgeMs` after it
 * succeeded: fifty dashboards polling `backupStatus` cost one walk of the repositories, not
 * fifty. A failed read is not kept; the next ask tries again.
 */
export function sharedFor<T>(read: () => Promise<T>, maxAgeMs: number, now: () => number = Date.now): () => Promise<T> {
  let current: { value: Promise<T>; settledAt: number | undefined } | undefined;
  return () => {
    if (current && (current.settledAt === undefined || now() - current.settledAt < maxAgeMs)) return current.value;
    const entry: { value: Promise<T>; settledAt: number | undefined } = { value: read(), settledAt: undefined };
    current = entry;
    entry.value.then(
      () => {
        entry.settledAt = now();
      },
      () => {
        if (current === entry) current = undefined;
      },
    );
    return entry.value;
  };
}
