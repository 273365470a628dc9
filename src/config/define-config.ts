import type { BkdrConfigInput } from './schema.js';

/** Identity at run time; gives a `backup.config.ts` types and completion. */
export function defineConfig(config: BkdrConfigInput): BkdrConfigInput {
  return config;
}
