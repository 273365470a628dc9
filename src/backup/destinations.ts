import { isAbsolute, resolve } from 'node:path';
import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import type { CompressionSettings } from '../repo/repository.js';
import type { StorageAdapter } from '../storage/adapter.js';
import { createLocalAdapter } from '../storage/local.js';

export type DestinationConfig = BkdrConfig['destinations'][number];

export interface Destination {
  name: string;
  type: DestinationConfig['type'];
  priority: number;
  encrypted: boolean;
  offsite: boolean;
  compression: CompressionSettings;
  adapter: StorageAdapter;
}

/** Builds the destinations a command works with, highest priority (lowest number) first. */
export function openDestinations(config: BkdrConfig, configDir: string, only?: string[]): Destination[] {
  const known = config.destinations.map((d) => d.name as string);
  for (const name of only ?? []) {
    if (!known.includes(name)) throw new UsageError(`unknown destination '${name}' (configured: ${known.join(', ')})`);
  }
  return config.destinations
    .filter((d) => !only || only.length === 0 || only.includes(d.name as string))
    .map((d, i) => ({
      name: d.name as string,
      type: d.type,
      priority: d.priority ?? i + 1,
      encrypted: d.encryption !== false,
      offsite: d.offsite ?? d.type !== 'local',
      compression: compressionFor(config, d),
      adapter: createAdapter(d, configDir),
    }))
    .sort((a, b) => a.priority - b.priority);
}

function compressionFor(config: BkdrConfig, d: DestinationConfig): CompressionSettings {
  const c = d.compression ?? config.compression;
  if (!c || c.enabled === false) return { algorithm: 'none' };
  return c.level !== undefined ? { algorithm: c.algorithm, level: c.level } : { algorithm: c.algorithm };
}

function createAdapter(d: DestinationConfig, configDir: string): StorageAdapter {
  const name = d.name as string;
  switch (d.type) {
    case 'local': {
      const path = d.config.path;
      return createLocalAdapter({ name, path: isAbsolute(path) ? path : resolve(configDir, path) });
    }
    default:
      throw new UsageError(`destination ${name}: type '${d.type}' is not available yet (only 'local' is built so far)`);
  }
}
