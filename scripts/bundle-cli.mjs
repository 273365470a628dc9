// `npm run build` step 2: the CLI as one ESM bundle (with split chunks for what it imports
// lazily) in dist/cli/bundle/, which bin/bkdr.js runs. Node 20 loads ~220 small modules
// (ours and zod's) one by one, through its ESM loader: 90 ms of every command's start.
// The library (dist/index.js) stays tsc's output. Dependencies other than zod stay
// external: they are CommonJS or load lazily already.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outdir = join(root, 'dist/cli/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(pkg.dependencies).filter((name) => name !== 'zod'),
  logLevel: 'warning',
});
