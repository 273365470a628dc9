import { loadNativeAddon } from './native-addon.js';

/**
 * Puts the thread pool's threads under SCHED_BATCH as they run the blob addon's jobs
 * (native/bkdr_blob.c, batchPoolThreads): a pool thread woken for a job then no longer
 * preempts the JavaScript thread that queued it, which on a machine of few cores spent a
 * tenth of a first backup waiting to run again. For the CLI only: a library's pool threads
 * are its host's, and run the host's work too.
 */
export function applyPoolPolicy(): void {
  try {
    loadNativeAddon<{ batchPoolThreads(): void }>('bkdr_blob').batchPoolThreads();
  } catch {
    // Not built, or not loadable: the commands that need it say so; the others run without.
  }
}
