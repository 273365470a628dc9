import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';

export const DEFAULT_SERVE_HOST = '127.0.0.1';
export const DEFAULT_SERVE_PORT = 8080;

export interface ServeFlags {
  host?: string | undefined;
  port?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface ServeSettings {
  host: string;
  port: number;
  cert?: string;
  key?: string;
}

function parsePort(command: string, value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  // 0 asks the system for a free port: useful to `serve` (it says which), meaningless in a unit.
  const lowest = command === 'serve' ? 0 : 1;
  if (!(port >= lowest && port <= 65535)) throw new UsageError(`${command}: --port ${value} is not a port (${lowest}-65535)`);
  return port;
}

/** Absolute, checked now rather than when the server (or the service) first starts. */
function pemFile(command: string, option: string, path: string, configDir: string): string {
  const absolute = resolve(configDir, path);
  if (!statSync(absolute, { throwIfNoEntry: false })?.isFile()) throw new UsageError(`${command}: ${option} ${absolute}: no such file`);
  return absolute;
}

/**
 * Where `serve` listens and with which certificate: the flags, else the config's `serve`,
 * else 127.0.0.1:8080 without TLS. Flag paths are relative to the shell's directory,
 * config paths to the config's.
 */
export function serveSettings(command: string, flags: ServeFlags, config: BkdrConfig, configDir: string): ServeSettings {
  const cert =
    flags.cert !== undefined ? pemFile(command, '--cert', flags.cert, process.cwd()) : config.serve?.cert !== undefined ? pemFile(command, 'serve.cert', config.serve.cert, configDir) : undefined;
  const key = flags.key !== undefined ? pemFile(command, '--key', flags.key, process.cwd()) : config.serve?.key !== undefined ? pemFile(command, 'serve.key', config.serve.key, configDir) : undefined;
  if ((cert === undefined) !== (key === undefined)) throw new UsageError(`${command}: a certificate and its key go together (--cert and --key)`);
  return {
    host: flags.host ?? config.serve?.host ?? DEFAULT_SERVE_HOST,
    port: flags.port !== undefined ? parsePort(command, flags.port) : (config.serve?.port ?? DEFAULT_SERVE_PORT),
    ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
  };
}
