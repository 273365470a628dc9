import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OperationError } from './errors.js';
import { packageRoot } from './package-root.js';

const loaded = new Map<string, unknown>();

/** One of the package's own native addons (binding.gyp), from build/Release of the package root. */
export function loadNativeAddon<T>(name: string): T {
  const cached = loaded.get(name);
  if (cached) return cached as T;
  const path = join(packageRoot(), 'build', 'Release', `${name}.node`);
  if (existsSync(path)) {
    const addon = createRequire(import.meta.url)(path) as T;
    loaded.set(name, addon);
    return addon;
  }
  throw new OperationError(`native addon ${name} not built: run \`npm rebuild\` in the bkdr package (needs python3, make and a C compiler)`);
}
