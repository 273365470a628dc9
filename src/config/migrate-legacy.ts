import { ConfigError } from '../core/errors.js';
import type { BkdrConfigInput } from './schema.js';

type Destination = BkdrConfigInput['destinations'][number];

const LEGACY_KEYS = new Set(['schedule', 'retention', 'destination', 'destinations', 'compression', 'encryption', 'sources', 'paths', 'strategy', 'verification']);

/**
 * The product brief's legacy shape `{ schedule, retention: 30, destination: 's3://bucket' }`
 * into the current one. `retention: N` meant "keep N days", which is `{ daily: N }`:
 * one snapshot per day for the last N days.
 */
export function migrateLegacyConfig(legacy: unknown): { config: BkdrConfigInput; notes: string[] } {
  if (!legacy || typeof legacy !== 'object' || Array.isArray(legacy)) throw new ConfigError('', 'a legacy config is a JSON object');
  const l = legacy as Record<string, unknown>;
  const unknown = Object.keys(l).filter((k) => !LEGACY_KEYS.has(k));
  if (unknown.length > 0) throw new ConfigError(unknown[0]!, `unknown legacy key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const notes: string[] = [];

  const destinationUrls = [l['destination'], ...(Array.isArray(l['destinations']) ? (l['destinations'] as unknown[]) : [])].filter((d): d is string => typeof d === 'string');
  if (destinationUrls.length === 0) throw new ConfigError('destination', 'required (a URL such as s3://bucket or a local path)');
  const destinations = destinationUrls.map((url, i) => destinationFromUrl(url, `destination${destinationUrls.length > 1 ? `s[${i}]` : ''}`));

  const config: BkdrConfigInput = { sources: {}, destinations };
  const paths = Array.isArray(l['paths']) ? (l['paths'] as string[]) : Array.isArray(l['sources']) ? (l['sources'] as unknown[]).filter((s): s is string => typeof s === 'string') : [];
  if (paths.length === 0) notes.push("no paths in the legacy config: added a 'files' source for '.', edit it to what you back up");
  config.sources = { files: { type: 'files', paths: paths.length > 0 ? paths : ['.'] } };

  const schedule = l['schedule'];
  if (typeof schedule === 'string') config.schedule = { type: 'cron', expression: schedule, timezone: 'UTC' };
  else if (typeof schedule === 'number') config.schedule = { type: 'interval', expression: String(schedule) };
  else if (schedule && typeof schedule === 'object') config.schedule = schedule as BkdrConfigInput['schedule'];

  const retention = l['retention'];
  if (typeof retention === 'number') {
    config.retention = { daily: retention };
    notes.push(`retention: ${retention} (days) became { daily: ${retention} }`);
  } else if (retention && typeof retention === 'object') config.retention = retention as BkdrConfigInput['retention'];

  const compression = l['compression'];
  if (typeof compression === 'string') config.compression = { enabled: true, algorithm: compression as 'lz4' };
  else if (typeof compression === 'boolean') config.compression = { enabled: compression, algorithm: 'lz4' };
  if (typeof l['encryption'] === 'boolean') for (const d of destinations) d.encryption = l['encryption'];
  if (typeof l['strategy'] === 'string') config.strategy = l['strategy'] as BkdrConfigInput['strategy'];
  return { config, notes };
}

function destinationFromUrl(url: string, path: string): Destination {
  const m = /^([a-z0-9+]+):\/\/(.*)$/i.exec(url);
  if (!m) return { type: 'local', config: { path: url } };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  const [first = '', ...more] = rest.split('/');
  const prefix = more.join('/');
  switch (scheme) {
    case 'file':
      return { type: 'local', config: { path: `/${rest.replace(/^\/+/, '')}` } };
    case 's3':
      return { type: 's3', config: { bucket: first, ...(prefix ? { prefix } : {}) } };
    case 'gs':
    case 'gcs':
      return { type: 'gcs', config: { bucket: first, ...(prefix ? { prefix } : {}) } };
    case 'azure':
      return { type: 'azure', config: { container: first, ...(prefix ? { prefix } : {}) } };
    case 'ftp':
    case 'ftps': {
      const u = new URL(url);
      return {
        type: 'ftp',
        config: {
          host: u.hostname,
          ...(u.port ? { port: Number(u.port) } : {}),
          ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
          ...(scheme === 'ftps' ? { secure: true } : {}),
          ...(u.pathname.length > 1 ? { path: u.pathname } : {}),
        },
      };
    }
    case 'sftp': {
      const u = new URL(url);
      if (!u.username) throw new ConfigError(path, `'${url}' needs a user (sftp://user@host/path)`);
      return {
        type: 'sftp',
        config: { host: u.hostname, username: decodeURIComponent(u.username), ...(u.port ? { port: Number(u.port) } : {}), ...(u.pathname.length > 1 ? { path: u.pathname } : {}) },
      };
    }
    default:
      throw new ConfigError(path, `unknown scheme '${scheme}://' (use s3, gs, azure, ftp, ftps, sftp, file or a local path)`);
  }
}
