#!/bin/sh
':' //; exec node --max-semi-space-size=4 "$0" "$@"
// sh runs the two lines above; to node they are a comment, a string and a comment. Run as
// a program (`bkdr`, ./bin/bkdr.js), this file has sh start node on itself with the exec
// line's flags. `#!/usr/bin/env -S node <flags>` would say it in one line, but BusyBox's
// env (Alpine) has no -S, and bkdr would not start there. Units that start node on this
// file pass the same flags (core/package-root.ts, binNodeFlags). Prettier leaves this
// file alone: it would end the ':' with a semicolon, and sh would then run `//`.
//
// The flag caps V8's young generation at two 4 MiB semi-spaces (16 MiB by default on
// 64-bit): a run's short-lived objects (tree nodes, restore batches) filled them, and their
// pages stayed resident. Peak RSS, alternating runs: a restore of the bench's real tree
// 188-202 -> 172-182 MiB, its first backup 178-190 -> 169-171, a 4 GiB file's backup
// 122-135 -> 117-121, each as fast as before.

// glibc's malloc policy (core/malloc-policy.ts) before anything else runs: the arena limit
// only holds back arenas made after it is set, and V8's worker threads make theirs on their
// first allocations. Set from main() (after the bundle had loaded and run), a no-op
// incremental of a 55 000-file tree ended with five arenas, 148 MiB peak RSS; set here,
// one or two, 137 MiB.
import { applyMallocPolicy } from '../dist/core/malloc-policy.js';
// V8's optimizing-compiler threshold (core/jit-policy.ts), before the bundle's functions exist.
import { applyJitPolicy } from '../dist/core/jit-policy.js';

applyMallocPolicy();
applyJitPolicy();
const args = process.argv.slice(2);
// The key derivations of the slots this config's last run opened (repo/keys-ahead.ts), beside the CLI's loading.
if (!args.includes('--async')) (await import('../dist/repo/keys-ahead.js')).deriveKeysAhead(args);
// PostgreSQL runs `wal push --async` / `wal fetch --async` once per WAL file: answered from the
// spool by a module of node:fs alone, before the CLI (most of a start's time) loads.
if (args.includes('--async') && args.includes('wal')) {
  const { parseAsyncWalCall, runAsyncWalCall } = await import('../dist/backup/wal-async-client.js');
  const { fileURLToPath } = await import('node:url');
  const call = parseAsyncWalCall(args);
  if (call) {
    process.exitCode = await runAsyncWalCall(call, fileURLToPath(import.meta.url));
  }
}
if (process.exitCode === undefined) {
  // The bundle of dist/cli/main.js (scripts/bundle-cli.mjs): it starts 90 ms faster.
  const { main } = await import('../dist/cli/bundle/main.js');
  const code = await main(process.argv);
  // Let pending stdout writes drain before exiting with the code (piped output in cron).
  process.exitCode = code;
}
