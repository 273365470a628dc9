import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

/**
 * What every command loads before it runs: the bundle's entry chunk and what it imports
 * statically. The server's stack (GraphQL, yoga, Pothos, prom-client) is for `bkdr serve`
 * alone; imported with the program, it made every command start in 0.42 s and 89 MiB
 * instead of 0.14 s and 61 MiB, and `wal push` runs once per WAL segment.
 */
describe('the CLI start', () => {
  it('does not load the API server’s packages unless `serve` runs', () => {
    const bundle = join(repoRoot, 'dist/cli/bundle');
    // The entry chunk and the chunks it imports statically, transitively: what loads before any command runs.
    const packages = new Set<string>();
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(join(bundle, file), 'utf8').matchAll(/^import\s[^;]*?from\s+"([^"]+)"|^import\s+"([^"]+)"/gm)) {
        const from = (m[1] ?? m[2])!;
        if (from.startsWith('./')) visit(from.slice(2));
        else packages.add(from);
      }
    };
    visit('main.js');
    // The scan sees what is loaded: the command-line parser is.
    expect([...packages]).toContain('commander');
    for (const heavy of ['graphql', 'graphql-yoga', '@pothos/core', 'graphql-scalars', 'prom-client', '@escape.tech/graphql-armor-max-depth']) expect([...packages], heavy).not.toContain(heavy);
  });
});
