import type { BkdrConfigInput } from './schema.js';

export type ConfigFormat = 'ts' | 'json' | 'yaml';

export const DEFAULT_CONFIG_FILES: Record<ConfigFormat, string> = { ts: 'backup.config.ts', json: 'backup.config.json', yaml: 'backup.config.yaml' };

/** The yaml package is loaded only here and in `config show`: every other command would pay for it at start. */
export async function renderConfig(config: BkdrConfigInput, format: ConfigFormat): Promise<string> {
  switch (format) {
    case 'json':
      return `${JSON.stringify(config, null, 2)}\n`;
    case 'yaml':
      return (await import('yaml')).stringify(config);
    case 'ts':
      return `import { defineConfig } from 'bkdr';\n\nexport default defineConfig(${toTsLiteral(config, '')});\n`;
  }
}

/** An object literal as a person would write it: bare keys where possible, single quotes, trailing commas. */
function toTsLiteral(value: unknown, indent: string): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v !== 'object' || v === null)) return `[${value.map((v) => toTsLiteral(v, inner)).join(', ')}]`;
    return `[\n${value.map((v) => `${inner}${toTsLiteral(v, inner)},`).join('\n')}\n${indent}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const key = (k: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : quote(k));
    return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${toTsLiteral(v, inner)},`).join('\n')}\n${indent}}`;
  }
  return typeof value === 'string' ? quote(value) : String(value);
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}
