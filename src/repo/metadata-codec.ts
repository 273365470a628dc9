import { promisify } from 'node:util';
import { gunzipSync, gzip as gzipCb, gzipSync } from 'node:zlib';
import { IntegrityError } from '../core/errors.js';

/**
 * Index files and pack headers: JSON, gzipped (level 1) before sealing in repositories
 * of format 2. Their blob ids and offsets were ~4 % of a repository of small files as
 * plain JSON; gzip takes two thirds of that away. Format 1 repositories keep plain JSON,
 * so the bkdr versions that wrote them can still read them; readers take both forms
 * (JSON starts with '{', gzip with its magic bytes).
 */
export function encodeMetadata(value: unknown, gzip: boolean): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  return gzip ? gzipSync(json, { level: 1 }) : json;
}

const gzipAsync = promisify(gzipCb);

/** encodeMetadata for JSON already serialized, gzipped on the thread pool. */
export async function encodeMetadataJson(json: string, gzip: boolean): Promise<Buffer> {
  const bytes = Buffer.from(json);
  return gzip ? gzipAsync(bytes, { level: 1 }) : bytes;
}

/** `what` names the object for the error: damage here is damage to the repository, not a bug. */
export function decodeMetadata(stored: Buffer, what: string): unknown {
  try {
    const json = stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b ? gunzipSync(stored) : stored;
    return JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new IntegrityError(`${what} is damaged (${(err as Error).message})`, { cause: err });
  }
}
