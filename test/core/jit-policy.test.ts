import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/**
 * How many calls a small hot function takes to be optimized by TurboFan in a fresh node
 * (compiling on the main thread, so the count does not depend on a background thread).
 */
function callsUntilOptimized(opts: { policy: boolean; nodeFlags?: string[] }): number {
  const policy = pathToFileURL(join(repoRoot, 'dist/core/jit-policy.js')).href;
  const script = `
    const { applyJitPolicy } = await import(${JSON.stringify(policy)});
    if (${opts.policy}) applyJitPolicy();
    const hot = new Function('n', 'let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s;');
    const turbofanned = 1 << 4;
    let calls = 0;
    while (calls < 100000 && !(%GetOptimizationStatus(hot) & turbofanned)) hot(100), calls++;
    process.stdout.write(String(calls));
  `;
  const args = ['--allow-natives-syntax', '--no-concurrent-recompilation', ...(opts.nodeFlags ?? []), '--input-type=module', '-e', script];
  return Number(execFileSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }));
}

describe('applyJitPolicy', () => {
  it('makes a function run ten times as long before it is optimized', () => {
    const byDefault = callsUntilOptimized({ policy: false });
    expect(byDefault).toBeGreaterThan(0);
    expect(byDefault).toBeLessThan(1000);
    expect(callsUntilOptimized({ policy: true })).toBeGreaterThan(10 * byDefault);
  });

  it("keeps the operator's own budget", () => {
    const nodeFlags = ['--interrupt-budget=20000'];
    const asSet = callsUntilOptimized({ policy: false, nodeFlags });
    expect(asSet).toBeLessThan(callsUntilOptimized({ policy: false }));
    expect(callsUntilOptimized({ policy: true, nodeFlags })).toBe(asSet);
  });
});
