import { loadNativeAddon } from './native-addon.js';

/**
 * Loads the blob addon now, for the malloc policy its loading sets (native/bkdr_blob.c,
 * init): glibc's arena limit counts only arenas made after it is set, and the thread
 * pool's threads make theirs on their first allocations. Set first thing, it kept a
 * first backup's pool threads to one shared arena instead of five, 10 MiB less peak RSS.
 * bin/bkdr.js calls it before it loads the CLI bundle: from main(), V8's worker threads had
 * made their arenas already (a no-op incremental of 55 000 files: five, 148 MiB peak RSS;
 * first thing in bin/bkdr.js, two, 139 MiB).
 */
export function applyMallocPolicy(): void {
  try {
    loadNativeAddon('bkdr_blob');
  } catch {
    // Not built, or not loadable: the commands that use it load it again and say why;
    // the others run without the policy.
  }
}
