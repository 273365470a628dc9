import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationError } from './errors.js';

const loaded = new Map<string, unknown>();

/**
 * One of the package's own native addons (binding.gyp), from build/Release of the
 * package root. Found by walking up from this file, so src/ (tests) and dist/ (CLI) both work.
 */
export function loadNativeAddon<T>(name: string): T {
  const cached = loaded.get(name);
  if (cached) return cached as T;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) {
      const addon = createRequire(import.meta.url)(candidate) as T;
      loaded.set(name, addon);
      return addon;
    }
    dir = dirname(dir);
  }
  throw new OperationError(`native addon ${name} not built: run \`npm rebuild\` in the bkdr package (needs python3, make and a C compiler)`);
}
