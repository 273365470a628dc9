import { randomBytes } from 'node:crypto';
import { BkdrError, IntegrityError, UsageError } from '../core/errors.js';
import { readAll, type StorageAdapter } from '../storage/adapter.js';
import { seal } from './crypto.js';
import { type ChunkerParams, DEFAULT_CHUNKER } from './fastcdc.js';

/**
 * The repository config, the object `config`: what makes a destination a repository.
 * Stored in an envelope of its own, readable before any key is known: magic, format
 * version, 0 plain / 1 sealed, then the JSON (sealed with the master key in an
 * encrypted repository).
 */
export interface RepoConfig {
  version: 1;
  id: string;
  chunker: ChunkerParams;
  encryption: 'aes-256-gcm' | 'none';
  createdAt: string;
}

export const CONFIG_KEY = 'config';
const CONFIG_MAGIC = Buffer.from('BKDRREPO');
/**
 * The format new repositories get. 2: pack headers and index files are gzipped, so a
 * bkdr that knows only 1 refuses the repository instead of taking them for damage. A
 * format 1 repository is read and written as format 1.
 */
export const FORMAT = 2;

/** A new repository's config: a fresh id, and a fresh chunker seed unless `chunker` brings one. */
export function newConfig(chunker: Partial<ChunkerParams> | undefined, encrypted: boolean): RepoConfig {
  return {
    version: 1,
    id: randomBytes(32).toString('hex'),
    chunker: { ...DEFAULT_CHUNKER, ...chunker, seed: chunker?.seed ?? randomBytes(32).toString('hex') },
    encryption: encrypted ? 'aes-256-gcm' : 'none',
    createdAt: new Date().toISOString(),
  };
}

/** The stored config of a new repository (format FORMAT), sealed with `key` when there is one. */
export function encodeConfig(config: RepoConfig, key: Buffer | undefined): Buffer {
  const plain = Buffer.from(JSON.stringify(config));
  return Buffer.concat([CONFIG_MAGIC, Buffer.from([FORMAT, key ? 1 : 0]), key ? seal(key, plain) : plain]);
}

/** Reads and checks the config's envelope: `body` is the config, still sealed when `sealed`. */
export async function readConfigEnvelope(adapter: StorageAdapter): Promise<{ format: number; sealed: boolean; body: Buffer }> {
  let envelope: Buffer;
  try {
    envelope = await readAll(await adapter.get(CONFIG_KEY));
  } catch (err) {
    if (err instanceof BkdrError) throw err;
    throw new UsageError(`destination ${adapter.name} holds no repository (or cannot be read): ${(err as Error).message}`, { cause: err });
  }
  if (envelope.length < CONFIG_MAGIC.length + 2 || !envelope.subarray(0, CONFIG_MAGIC.length).equals(CONFIG_MAGIC)) {
    throw new IntegrityError(`destination ${adapter.name}: the repository config is not a bkdr config`);
  }
  const format = envelope[CONFIG_MAGIC.length]!;
  if (format !== 1 && format !== FORMAT) throw new UsageError(`destination ${adapter.name}: repository format ${format} is newer than this bkdr understands`);
  return { format, sealed: envelope[CONFIG_MAGIC.length + 1] === 1, body: envelope.subarray(CONFIG_MAGIC.length + 2) };
}

export function parseConfig(plain: Buffer): RepoConfig {
  return JSON.parse(plain.toString('utf8')) as RepoConfig;
}
