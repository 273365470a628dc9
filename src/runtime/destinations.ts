import { isAbsolute, resolve } from 'node:path';
import type { BkdrConfig } from '../config/schema.js';
import { UsageError } from '../core/errors.js';
import type { CompressionSettings } from '../repo/repository.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { StorageAdapter } from '../storage/adapter.js';
import { limited } from '../storage/limited.js';
import { createLocalAdapter } from '../storage/local.js';
import { logged } from '../storage/logged.js';
import { retrying } from '../storage/retrying.js';
import type { createS3Adapter } from '../storage/s3.js';
import { timedOut } from '../storage/timed-out.js';

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

/**
 * Builds the destinations a command works with, highest priority (lowest number) first.
 * Each remote kind's SDK is loaded only when a destination of that kind is configured:
 * together they would add ~70 MiB and ~0.3 s to every run.
 */
export async function openDestinations(config: BkdrConfig, configDir: string, only?: string[], log: Logger = silentLogger): Promise<Destination[]> {
  const known = config.destinations.map((d) => d.name as string);
  for (const name of only ?? []) {
    if (!known.includes(name)) throw new UsageError(`unknown destination '${name}' (configured: ${known.join(', ')})`);
  }
  const chosen = config.destinations.filter((d) => !only || only.length === 0 || only.includes(d.name as string));
  const destinations = await Promise.all(
    chosen.map(async (d, i) => ({
      name: d.name as string,
      type: d.type,
      priority: d.priority ?? i + 1,
      encrypted: d.encryption !== false,
      offsite: d.offsite ?? d.type !== 'local',
      compression: compressionFor(config, d),
      adapter: await createAdapter(d, configDir, log),
    })),
  );
  return destinations.sort((a, b) => a.priority - b.priority);
}

function compressionFor(config: BkdrConfig, d: DestinationConfig): CompressionSettings {
  const c = d.compression ?? config.compression;
  if (!c || c.enabled === false) return { algorithm: 'none' };
  return c.level !== undefined ? { algorithm: c.algorithm, level: c.level } : { algorithm: c.algorithm };
}

/** Requests in flight to one remote destination; local disks need no limit. */
const REMOTE_CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 60_000;

/** The one place adapters are composed with the wrappers written once (CONVENTIONS.md §1). */
async function createAdapter(d: DestinationConfig, configDir: string, log: Logger): Promise<StorageAdapter> {
  const name = d.name as string;
  switch (d.type) {
    case 'local': {
      const path = d.config.path;
      return logged(createLocalAdapter({ name, path: isAbsolute(path) ? path : resolve(configDir, path) }), log);
    }
    case 's3': {
      const { createS3Adapter } = await import('../storage/s3.js');
      return remote(createS3Adapter(name, d.config), name, log);
    }
    case 'gcs': {
      const settings = gcsInteroperability(d.config);
      const { createS3Adapter } = await import('../storage/s3.js');
      return remote(createS3Adapter(name, settings), name, log, 'gcs');
    }
    case 'azure': {
      const { createAzureAdapter } = await import('../storage/azure.js');
      return remote(createAzureAdapter(name, d.config), name, log);
    }
    case 'ftp': {
      const { createFtpAdapter } = await import('../storage/ftp.js');
      return remote(createFtpAdapter(name, d.config), name, log);
    }
    case 'sftp': {
      const { createSftpAdapter } = await import('../storage/sftp.js');
      return remote(createSftpAdapter(name, d.config), name, log);
    }
  }
}

function remote(inner: StorageAdapter, name: string, log: Logger, kind = inner.kind): StorageAdapter {
  const onRetry = (operation: string, key: string, attempt: number, err: unknown) => log.warn(`${name}: ${operation} ${key} failed (${(err as Error).message}); retry ${attempt}`);
  const wrapped = logged(limited(retrying(timedOut(inner, REQUEST_TIMEOUT_MS), { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000, onRetry }), REMOTE_CONCURRENCY), log);
  return kind === wrapped.kind ? wrapped : { ...wrapped, kind };
}

type GcsConfig = Extract<DestinationConfig, { type: 'gcs' }>['config'];

/**
 * Google Cloud Storage through its XML API, which speaks the S3 protocol with HMAC
 * keys (Cloud Storage → Settings → Interoperability). One code path and one
 * conformance suite serve both; service-account JSON credentials are not used.
 */
export function gcsInteroperability(cfg: GcsConfig): Parameters<typeof createS3Adapter>[1] {
  if (!cfg.hmacAccessId || !cfg.hmacSecret) {
    throw new UsageError(`gcs bucket ${cfg.bucket}: hmacAccessId and hmacSecret are required (GCS is reached through its S3-compatible XML API with HMAC keys)`);
  }
  return {
    bucket: cfg.bucket,
    prefix: cfg.prefix,
    endpoint: cfg.endpoint ?? 'https://storage.googleapis.com',
    region: 'auto',
    forcePathStyle: true,
    accessKeyId: cfg.hmacAccessId,
    secretAccessKey: cfg.hmacSecret,
  };
}
