import { stringify } from 'yaml';
import type { BkdrConfigInput } from './schema.js';

export type ConfigFormat = 'ts' | 'json' | 'yaml';

export const DEFAULT_CONFIG_FILES: Record<ConfigFormat, string> = { ts: 'backup.config.ts', json: 'backup.config.json', yaml: 'backup.config.yaml' };

export function renderConfig(config: BkdrConfigInput, format: ConfigFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(config, null, 2)}\n`;
    case 'yaml':
      return stringify(config);
    case 'ts':
      return `import { defineConfig } from 'bkdr';\n\nexport default defineConfig(${JSON.stringify(config, null, 2)});\n`;
  }
}
