import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, brotliDecompress, constants as zc, gunzip, gzip, gzipSync } from 'node:zlib';
import { loadNativeAddon } from '../core/native-addon.js';

export type CompressionAlgorithm = 'lz4' | 'gzip' | 'brotli' | 'none';

export interface CompressionSettings {
  algorithm: CompressionAlgorithm;
  level?: number;
}

/** The tag byte in front of every stored blob says how its payload is encoded. */
export const CompressionTag = { none: 0, lz4: 1, gzip: 2, brotli: 3 } as const;
export type CompressionTag = (typeof CompressionTag)[keyof typeof CompressionTag];

/** native/bkdr_blob.c: LZ4 blocks behind a little-endian uint32 of the uncompressed size. */
interface Lz4Addon {
  lz4(data: Buffer, compress: boolean, sync: true, into: null): Buffer;
  lz4(data: Buffer, compress: boolean, sync: false, into: null): Promise<Buffer>;
  /** Compressed into `into` when it holds lz4Bound(data.length): the length written; else a new Buffer. */
  lz4(data: Buffer, compress: true, sync: false, into: Buffer): Promise<Buffer | number>;
}
const addon = (): Lz4Addon => loadNativeAddon<Lz4Addon>('bkdr_blob');
const lz4 = {
  compress: async (data: Buffer, into?: Buffer) => {
    if (!into) return addon().lz4(data, true, false, null);
    const out = await addon().lz4(data, true, false, into);
    return typeof out === 'number' ? into.subarray(0, out) : out;
  },
  compressSync: (data: Buffer) => addon().lz4(data, true, true, null),
  decompress: (data: Buffer) => addon().lz4(data, false, false, null),
  decompressSync: (data: Buffer) => addon().lz4(data, false, true, null),
};

/** Bytes an LZ4 compression of `length` bytes may take in bkdr's framing (LZ4_compressBound and the size prefix). */
export function lz4Bound(length: number): number {
  return 4 + length + Math.floor(length / 255) + 16;
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliCompress);
const unbrotliAsync = promisify(brotliDecompress);

/** Below this saving a blob is stored raw: decompressing it would cost time for nothing. */
const MIN_SAVING = 0.03;
/** Smaller blobs compress on the calling thread: the hop to the thread pool costs more than the work. */
const SYNC_BELOW = 64 * 1024;

/**
 * Compresses off the main thread (the LZ4 addon and zlib both run in the libuv pool), and
 * falls back to the raw bytes when the data does not compress. LZ4 writes into `into` when
 * it holds lz4Bound(data.length): the payload is then a view of it.
 */
export async function compressBlob(data: Buffer, settings: CompressionSettings, into?: Buffer): Promise<{ tag: CompressionTag; payload: Buffer }> {
  if (settings.algorithm === 'none' || data.length < 64) return { tag: CompressionTag.none, payload: data };
  const sync = data.length < SYNC_BELOW;
  let payload: Buffer;
  switch (settings.algorithm) {
    case 'lz4':
      payload = sync ? lz4.compressSync(data) : await lz4.compress(data, into);
      break;
    case 'gzip': {
      const options = { level: settings.level ?? 6 };
      payload = sync ? gzipSync(data, options) : await gzipAsync(data, options);
      break;
    }
    case 'brotli': {
      const options = { params: { [zc.BROTLI_PARAM_QUALITY]: settings.level ?? 5, [zc.BROTLI_PARAM_SIZE_HINT]: data.length } };
      payload = sync ? brotliCompressSync(data, options) : await brotliAsync(data, options);
      break;
    }
  }
  if (payload.length > data.length * (1 - MIN_SAVING)) return { tag: CompressionTag.none, payload: data };
  return { tag: CompressionTag[settings.algorithm], payload };
}

/**
 * zlib's output piece: the whole blob (its plaintext length, from the index, and a byte
 * so zlib sees the end without asking for another piece), so it inflates in one trip to
 * the pool into one buffer. With the default 16 KiB, a 200 KiB tree took a dozen trips
 * and a copy to join the pieces.
 */
function outputChunkSize(payload: Buffer, rawLength: number | undefined): number {
  // zlib refuses pieces under 64 bytes; a damaged index may hold any length.
  return Math.min(Math.max(rawLength === undefined ? payload.length * 4 : rawLength + 1, 64), 64 * 1024 * 1024);
}

/** `rawLength`: the plaintext length the index records, when known. */
export async function decompressBlob(tag: number, payload: Buffer, rawLength?: number): Promise<Buffer> {
  switch (tag) {
    case CompressionTag.none:
      return payload;
    case CompressionTag.lz4:
      return payload.length < SYNC_BELOW ? lz4.decompressSync(payload) : lz4.decompress(payload);
    case CompressionTag.gzip:
      return gunzipAsync(payload, { chunkSize: outputChunkSize(payload, rawLength) });
    case CompressionTag.brotli:
      return unbrotliAsync(payload, { chunkSize: outputChunkSize(payload, rawLength) });
    default:
      throw new Error(`unknown compression tag ${tag}`);
  }
}

export function compressionName(tag: number): string {
  return Object.entries(CompressionTag).find(([, v]) => v === tag)?.[0] ?? `tag-${tag}`;
}
