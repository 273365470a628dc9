import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { BkdrConfig } from './schema.js';

export interface ServeToken {
  name: string;
  role: 'read' | 'operate';
  token: string;
}

/** A token kept in a file (trimmed: editors add a newline). Relative paths resolve against `configDir`. */
export function readTokenFile(file: string, configDir: string, where: string): string {
  let text: string;
  try {
    text = readFileSync(resolve(configDir, file), 'utf8').trim();
  } catch (err) {
    throw new ConfigError(where, `cannot read the token file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (text === '') throw new ConfigError(where, `the token file ${file} is empty`);
  return text;
}

/** `serve.tokens` with each token read: inline (JSON and YAML configs take `${ENV}` there), or from its file. */
export function resolveServeTokens(config: Pick<BkdrConfig, 'serve'>, configDir: string): ServeToken[] {
  return (config.serve?.tokens ?? []).map((t, i) => ({ name: t.name, role: t.role, token: t.token ?? readTokenFile(t.tokenFile ?? '', configDir, `serve.tokens[${i}].tokenFile`) }));
}
