export interface DeadlineSignal {
  /** Aborts when the outer signal does (with its reason), or after the deadline (with a TimeoutError). */
  signal: AbortSignal;
  /** Stops the timer and lets go of the outer signal: call it when the work is done, whichever way. */
  clear(): void;
}

/**
 * A signal for one bounded piece of work: a probe, a scrape, a notification.
 *
 * Not `AbortSignal.any([outer, AbortSignal.timeout(ms)])`: on Node 20 a timeout signal is
 * held only weakly by its timer, so a garbage collection before the deadline can take it,
 * and the composite then never aborts (nodejs/node#57736). A health probe of a server that
 * stopped answering then hung until its watch ended, and the failure was never detected.
 * Here the timer holds the controller, so the deadline holds whatever the collector does.
 */
export function deadlineSignal(outer: AbortSignal, ms: number): DeadlineSignal {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer.reason);
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  if (outer.aborted) onOuterAbort();
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts, whether
 * or not the client doing the work honours the signal: a bounded call stays bounded.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
