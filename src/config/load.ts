import { existsSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cosmiconfig, defaultLoaders, type Loader, type LoaderSync } from 'cosmiconfig';
import { ConfigError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';
import { interpolateEnv } from './env-interpolation.js';
import { parseJsonConfig } from './parse-json.js';
import type { BkdrConfig } from './schema.js';
import { validateConfig } from './validate.js';

export interface LoadedConfig {
  config: BkdrConfig;
  filepath: string;
}

/** A dedicated config file wins over a `bkdr` key in package.json in the same directory. */
export const SEARCH_PLACES = [
  '.bkdrrc',
  '.bkdrrc.json',
  '.bkdrrc.yaml',
  '.bkdrrc.yml',
  '.bkdrrc.js',
  '.bkdrrc.mjs',
  '.bkdrrc.ts',
  'backup.config.ts',
  'backup.config.js',
  'backup.config.mjs',
  'backup.config.json',
  'backup.config.yaml',
  'backup.config.yml',
  'package.json',
];

/** `import { defineConfig } from 'bkdr'` must work in a config that lives anywhere, so 'bkdr' resolves to this package. */
function packageEntry(): string {
  return fileURLToPath(import.meta.url).endsWith('.ts') ? join(packageRoot(), 'src', 'index.ts') : join(packageRoot(), 'dist', 'index.js');
}

const loadTypeScript: Loader = async (filepath) => {
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, { alias: { bkdr: packageEntry() }, moduleCache: false, fsCache: false });
  try {
    return await jiti.import(filepath, { default: true });
  } catch (err) {
    throw describeJitiError(err) ?? err;
  }
};

/**
 * jiti reports a syntax error (in the config or in a file it imports) as a plain Error
 * whose message is `ParseError: <reason> \n <file>:<line>:<column>`; the position is
 * only in that second line, with babel's column counted from 0.
 */
function describeJitiError(err: unknown): ConfigError | undefined {
  const message = err instanceof Error ? err.message : '';
  const where = /^(\w+): ([^\n]*?)\s*\n\s*(\S.*):(\d+):(\d+)$/.exec(message);
  if (!where) return undefined;
  const [, code, reason = '', file = '', line, column] = where;
  const language = /\.[cm]?tsx?$/.test(file) ? 'TypeScript' : 'JavaScript';
  const problem = code === 'ParseError' ? `invalid ${language}` : `cannot compile ${language}`;
  const position = line === '0' ? '' : ` at line ${line} column ${Number(column) + 1}`;
  return new ConfigError('', `${file}: ${problem}${position}: ${reason}`, { cause: err });
}

/** js-yaml's error holds the position as `mark` (counted from 0) and the bare problem as `reason`. */
const loadYaml: LoaderSync = (filepath, content) => {
  try {
    return defaultLoaders['.yaml'](filepath, content);
  } catch (err) {
    const { mark, reason } = err as { mark?: { line?: unknown; column?: unknown }; reason?: unknown };
    if (typeof mark?.line !== 'number' || typeof mark.column !== 'number' || typeof reason !== 'string') throw err;
    throw new ConfigError('', `${filepath}: invalid YAML at line ${mark.line + 1} column ${mark.column + 1}: ${reason}`, { cause: err });
  }
};

/**
 * Finds and validates the config: `configPath`, else BKDR_CONFIG, else a cosmiconfig
 * search upwards from `cwd`. `required: false` returns undefined when none is found;
 * a config that is found but invalid always fails.
 */
export async function loadConfig(opts: { configPath?: string; cwd?: string; required?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<LoadedConfig | undefined> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explorer = cosmiconfig('bkdr', {
    searchPlaces: SEARCH_PLACES,
    searchStrategy: 'project',
    loaders: { '.ts': loadTypeScript, '.json': parseJsonConfig, '.yaml': loadYaml, '.yml': loadYaml, noExt: loadYaml },
    cache: false,
  });
  const explicit = opts.configPath ?? env['BKDR_CONFIG'];
  let result: { config: unknown; filepath: string; isEmpty?: boolean } | null;
  try {
    if (explicit) {
      const file = isAbsolute(explicit) ? explicit : resolve(cwd, explicit);
      if (!existsSync(file)) throw new ConfigError('', `config file ${file} not found`);
      result = await explorer.load(file);
    } else {
      result = await explorer.search(cwd);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // cosmiconfig puts the file that failed (the config or one it imports) on the error
    const file = (err as { filepath?: unknown }).filepath;
    const where = typeof file === 'string' ? ` ${file}` : '';
    throw new ConfigError('', `cannot load config${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (!result || result.isEmpty) {
    if (opts.required === false) return undefined;
    throw new ConfigError('', 'no config found (searched backup.config.*, .bkdrrc*, package.json#bkdr)', { remedy: { option: 'config' } });
  }
  const isCode = ['.ts', '.js', '.mjs', '.cjs'].includes(extname(result.filepath));
  const raw = isCode ? result.config : interpolateEnv(result.config, env);
  return { config: validateConfig(raw, result.filepath), filepath: result.filepath };
}

/** A path written in the config, resolved against the config file's directory. */
export function resolveFromConfig(loaded: LoadedConfig, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(loaded.filepath), path);
}
