import { setFlagsFromString } from 'node:v8';

/**
 * How much bytecode a function runs before V8 considers it for its optimizing compiler:
 * 15 times V8's default of 67 584. A command lasts seconds, and with the default,
 * TurboFan compiled some 250 functions in an incremental backup of the bench's real tree,
 * the walk's large async functions six times each (deoptimized, recompiled): 1.7 s of
 * CPU on its background threads, against 2.3 s of the walk on the main thread, on two
 * cores. What stays hot through a long run still gets optimized, a little later.
 */
const INTERRUPT_BUDGET = 1_000_000;

/**
 * Raises V8's optimization threshold for this process (INTERRUPT_BUDGET), unless the
 * operator set one on node's command line (`node --interrupt-budget=… bin/bkdr.js`; Node
 * refuses it in NODE_OPTIONS). For the CLI only, before it loads: only functions made
 * after the change get the new budget. A library leaves the host process's JIT alone.
 */
export function applyJitPolicy(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((arg) => /^--interrupt[-_]budget=/.test(arg))) return;
  setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
}
