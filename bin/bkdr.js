#!/usr/bin/env node
// glibc's malloc policy (core/malloc-policy.ts) before anything else runs: the arena limit
// only holds back arenas made after it is set, and V8's worker threads make theirs on their
// first allocations. Set from main() (after the bundle had loaded and run), a no-op
// incremental of a 55 000-file tree ended with five arenas, 148 MiB peak RSS; set here,
// one or two, 137 MiB.
import { applyMallocPolicy } from '../dist/core/malloc-policy.js';

applyMallocPolicy();
// The bundle of dist/cli/main.js (scripts/bundle-cli.mjs): it starts 90 ms faster.
const { main } = await import('../dist/cli/bundle/main.js');

const code = await main(process.argv);
// Let pending stdout writes drain before exiting with the code (piped output in cron).
process.exitCode = code;
