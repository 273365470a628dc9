import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * Index files and pack headers: JSON, gzipped (level 1) before sealing. Their blob ids
 * and offsets were ~4 % of a repository of small files as plain JSON; gzip halves that.
 * Readers take both forms, so repositories written before stay readable: JSON starts
 * with '{', gzip with its magic bytes.
 */
export function encodeMetadata(value: unknown): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(value)), { level: 1 });
}

export function decodeMetadata(stored: Buffer): unknown {
  const json = stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b ? gunzipSync(stored) : stored;
  return JSON.parse(json.toString('utf8'));
}
