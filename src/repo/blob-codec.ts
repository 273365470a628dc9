import { loadNativeAddon } from '../core/native-addon.js';
import { systemError } from '../core/system-error.js';
import { type CompressionSettings, CompressionTag, compressBlob, decompressBlob, lz4Bound } from './compression.js';
import { SEAL_OVERHEAD } from './crypto.js';
import type { FastCdc } from './fastcdc.js';

/**
 * native/bkdr_blob.c: the per-byte work of the repository engine (cut points,
 * SHA-256, LZ4, AES-256-GCM) on the libuv pool, so every core works on a backup.
 */
interface BlobAddon {
  cutAndHash(data: Buffer, gear: Uint32Array, min: number, avg: number, max: number, maskS: number, maskL: number, final: boolean, scanned: number): Promise<[number[], Buffer]>;
  seal(data: Buffer, key: Buffer | null, compress: NativeCompression, tag: number, wantHash: boolean, sync: true, into: Buffer | null, level: number): SealedRecord;
  seal(data: Buffer, key: Buffer | null, compress: NativeCompression, tag: number, wantHash: boolean, sync: false, into: Buffer | null, level: number): Promise<SealedRecord>;
  open(record: Buffer, key: Buffer | null, sync: true, into: Buffer | null): OpenedRecord;
  open(record: Buffer, key: Buffer | null, sync: false, into: Buffer | null): Promise<OpenedRecord>;
  hash(data: Buffer, sync: true): Buffer;
  hash(data: Buffer, sync: false): Promise<Buffer>;
  readSmall(paths: Buffer[], expectedSizes: number[], into: Buffer | null, seal: false, key: null, compress: 0, level: 0, sealInto: null): Promise<[Buffer, Float64Array, Buffer]>;
  readSmall(
    paths: Buffer[],
    expectedSizes: number[],
    into: Buffer | null,
    seal: true,
    key: Buffer | null,
    compress: NativeCompression,
    level: number,
    sealInto: Buffer | null,
  ): Promise<[Buffer, Float64Array, Buffer, Buffer, Float64Array]>;
  sealMany(data: Buffer[], key: Buffer | null, compress: NativeCompression, into: Buffer | null, level: number): Promise<[Buffer, Float64Array]>;
  gzipAvailable(): boolean;
  openMany(records: Buffer[], key: Buffer | null, into: Buffer | null): Promise<[Buffer, Float64Array, Buffer]>;
}
/** [record (or the destination, whose first `length` bytes it is), compression tag, SHA-256 of the plaintext when asked for, length]. */
type SealedRecord = [Buffer, number, Buffer | null, number];
/** [data (payload for gzip/brotli), compression tag, SHA-256 of the data when decoded]. */
type OpenedRecord = [Buffer, number, Buffer | null];

const addon = (): BlobAddon => loadNativeAddon<BlobAddon>('bkdr_blob');

/** How the addon compresses a record (COMPRESS_* in native/bkdr_blob.c). */
const NativeCompression = { none: 0, lz4: 1, gzip: 2 } as const;
type NativeCompression = (typeof NativeCompression)[keyof typeof NativeCompression];
/** The level gzip records are made at when the settings name none: zlib's default, as compressBlob's. */
const GZIP_DEFAULT_LEVEL = 6;

/** Whether the addon can make gzip records: asked once, as every tree is one. */
let nativeGzip: boolean | undefined;

/**
 * How the addon makes records with these settings, with the level it is given, or undefined
 * when zlib in JavaScript must: brotli, and gzip in a node whose zlib the addon cannot find.
 */
function nativeCompression(settings: CompressionSettings): { mode: NativeCompression; level: number } | undefined {
  if (settings.algorithm === 'none' || settings.algorithm === 'lz4') return { mode: NativeCompression[settings.algorithm], level: 0 };
  if (settings.algorithm === 'gzip' && (nativeGzip ??= addon().gzipAvailable())) return { mode: NativeCompression.gzip, level: settings.level ?? GZIP_DEFAULT_LEVEL };
  return undefined;
}

/** Below this, work runs on the calling thread: the hop to the pool costs more than the work. */
const INLINE_BELOW = 32 * 1024;

export interface Chunk {
  id: string;
  data: Buffer;
}

/**
 * Cuts `data` into content-defined chunks and hashes each. Returns the chunks whose end
 * is certain and how many bytes they cover; the rest must be carried into the next call
 * unless `final`. `scanned`: the bytes at data's start that are such a rest, searched
 * for a cut already and holding none; the search goes on after them, with the same cuts.
 */
export async function cutAndHash(chunker: FastCdc, data: Buffer, final: boolean, scanned = 0): Promise<{ chunks: Chunk[]; consumed: number }> {
  const { minSize, avgSize, maxSize } = chunker.params;
  const [lengths, ids] = await addon().cutAndHash(data, chunker.gear, minSize, avgSize, maxSize, chunker.maskS, chunker.maskL, final, scanned);
  const chunks: Chunk[] = [];
  let pos = 0;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    chunks.push({ id: ids.toString('hex', i * 32, i * 32 + 32), data: data.subarray(pos, pos + length) });
    pos += length;
  }
  return { chunks, consumed: pos };
}

/** The blob id (SHA-256, hex) of `data`. */
export async function blobId(data: Buffer): Promise<string> {
  return (data.length < INLINE_BELOW ? addon().hash(data, true) : await addon().hash(data, false)).toString('hex');
}

/**
 * A blob's stored record: compressed (raw when that saves under 3 %), tagged, and
 * sealed under `key` when the repository is encrypted. LZ4, gzip and raw records are
 * made natively in one step, into `into` when given and at least recordsBound([data])
 * long: through Node's zlib, each tree paid for a zlib stream object, a tenth of a
 * tree's sealing. Brotli goes through zlib first. Small blobs are sealed on the calling
 * thread.
 */
export async function encodeRecord(data: Buffer, key: Buffer | undefined, compression: CompressionSettings, into?: Buffer): Promise<{ record: Buffer; tag: CompressionTag }> {
  const native = addon();
  const compress = nativeCompression(compression);
  if (compress) {
    const [record, tag, , length] =
      data.length < INLINE_BELOW
        ? native.seal(data, key ?? null, compress.mode, CompressionTag.none, false, true, into ?? null, compress.level)
        : await native.seal(data, key ?? null, compress.mode, CompressionTag.none, false, false, into ?? null, compress.level);
    return { record: record === into ? record.subarray(0, length) : record, tag: tag as CompressionTag };
  }
  const { tag, payload } = await compressBlob(data, compression);
  const [record] =
    payload.length < INLINE_BELOW
      ? native.seal(payload, key ?? null, NativeCompression.none, tag, false, true, null, 0)
      : await native.seal(payload, key ?? null, NativeCompression.none, tag, false, false, null, 0);
  return { record, tag };
}

/** Room for the records encodeRecords makes of `data`, at their largest. */
export function recordsBound(data: Buffer[]): number {
  let bound = 0;
  // A record holds the raw data or LZ4's output, after the tag byte, sealed.
  for (const d of data) bound += SEAL_OVERHEAD + 1 + lz4Bound(d.length);
  return bound;
}

/**
 * Records for many small blobs in one trip to the pool: per blob, the hop would cost
 * the main thread more than the sealing itself. Same records as encodeRecord. LZ4, gzip
 * and raw records are written into `into` when given and at least recordsBound(data) long.
 */
export async function encodeRecords(data: Buffer[], key: Buffer | undefined, compression: CompressionSettings, into?: Buffer): Promise<{ record: Buffer; tag: CompressionTag }[]> {
  const compress = nativeCompression(compression);
  if (!compress) return Promise.all(data.map((d) => encodeRecord(d, key, compression)));
  if (data.length === 0) return [];
  const [records, meta] = await addon().sealMany(data, key ?? null, compress.mode, into ?? null, compress.level);
  return data.map((_, i) => ({ record: records.subarray(meta[i * 3]!, meta[i * 3]! + meta[i * 3 + 1]!), tag: meta[i * 3 + 2]! as CompressionTag }));
}

/** Room for readSmallFiles' data: each file's expected size and the byte that tells one that grew. */
export function smallReadsBound(expectedSizes: number[]): number {
  let bound = 0;
  for (const size of expectedSizes) bound += size + 1;
  return bound;
}

export type SmallFileRead =
  | { ok: true; data: Buffer; id: string; mtimeNs: bigint; size: bigint; opened: { mtimeNs: bigint; size: bigint } }
  | { ok: false; grew: true }
  | { ok: false; grew: false; error: NodeJS.ErrnoException };

/**
 * Reads and hashes many small files in one trip to the pool: per file, open, read,
 * stat and close on the main thread were most of a small-file backup's time. Each file
 * is read whole with one byte more than expected (a file that grew is reported, to be
 * streamed instead) and stat'ed as opened and after the read (mtimeNs, size), so the
 * caller can tell one that changed since its own stat from one that changed while read.
 * The data is read into `into` when given and at least smallReadsBound(expectedSizes) long.
 */
export async function readSmallFiles(paths: Buffer[], expectedSizes: number[], into?: Buffer): Promise<SmallFileRead[]> {
  const [data, meta, ids] = await addon().readSmall(paths, expectedSizes, into ?? null, false, null, 0, 0, null);
  return smallFileReads(paths, data, meta, ids);
}

/** Room for the records readAndSealSmallFiles makes of files of these sizes, at their largest. */
export function sealedReadsBound(expectedSizes: number[]): number {
  let bound = 0;
  // A record holds the raw data, or a shorter payload, after the tag byte, sealed.
  for (const size of expectedSizes) bound += SEAL_OVERHEAD + 1 + size;
  return bound;
}

/** A small file read whole, and its record when it was sealed with it. */
export type SealedSmallFileRead = SmallFileRead & { sealed?: { record: Buffer; tag: CompressionTag } };

/**
 * readSmallFiles, and each file read (not empty) sealed as encodeRecord would seal its
 * data, in the same trip to the pool: a batch of small files was two trips (read and
 * hash, then seal), each queued behind the others' on a busy pool. A file's record is
 * made before anyone knows whether the repository has its blob: the caller drops the
 * records it does not need. The records go into `sealInto` when given and at least
 * sealedReadsBound(expectedSizes) long. Compression the addon cannot make (brotli;
 * gzip without zlib) leaves every file unsealed, for the caller to seal its own way.
 */
export async function readAndSealSmallFiles(
  paths: Buffer[],
  expectedSizes: number[],
  sealing: { key: Buffer | undefined; compression: CompressionSettings },
  into?: Buffer,
  sealInto?: Buffer,
): Promise<SealedSmallFileRead[]> {
  const compress = nativeCompression(sealing.compression);
  if (!compress) return readSmallFiles(paths, expectedSizes, into);
  const [data, meta, ids, records, recordMeta] = await addon().readSmall(paths, expectedSizes, into ?? null, true, sealing.key ?? null, compress.mode, compress.level, sealInto ?? null);
  const reads: SealedSmallFileRead[] = smallFileReads(paths, data, meta, ids);
  for (const [i, read] of reads.entries()) {
    const r = i * 3; // offset, length (0: not sealed), compression tag
    if (read.ok && recordMeta[r + 1]! > 0) read.sealed = { record: records.subarray(recordMeta[r]!, recordMeta[r]! + recordMeta[r + 1]!), tag: recordMeta[r + 2]! as CompressionTag };
  }
  return reads;
}

function smallFileReads(paths: Buffer[], data: Buffer, meta: Float64Array, ids: Buffer): SmallFileRead[] {
  return paths.map((path, i): SmallFileRead => {
    const m = i * 10; // offset, length, errno, grew, then mtime s, mtime ns, size after the read, then as opened
    if (meta[m + 2]! !== 0) return { ok: false, grew: false, error: systemError(meta[m + 2]!, 'open', path) };
    if (meta[m + 3]! === 1) return { ok: false, grew: true };
    return {
      ok: true,
      data: data.subarray(meta[m]!, meta[m]! + meta[m + 1]!),
      id: ids.toString('hex', i * 32, i * 32 + 32),
      mtimeNs: BigInt(meta[m + 4]!) * 1_000_000_000n + BigInt(meta[m + 5]!),
      size: BigInt(meta[m + 6]!),
      opened: { mtimeNs: BigInt(meta[m + 7]!) * 1_000_000_000n + BigInt(meta[m + 8]!), size: BigInt(meta[m + 9]!) },
    };
  });
}

/** Why a record could not be decoded; the caller names the blob and pack. */
export class RecordDecodeError extends Error {
  constructor(
    readonly reason: 'authentication' | 'decompression',
    options: { cause?: unknown },
  ) {
    super(reason === 'authentication' ? 'fails authentication' : 'cannot be decompressed', options);
  }
}

/**
 * Opens and decompresses a record; returns the data and its SHA-256 (hex) for the caller
 * to compare with the id. An LZ4, gzip or raw record is decoded straight into `into` when
 * given (sized from the index). An LZ4 or raw record that decodes to another size fails as
 * undecompressable; gzip that is not one member of that size is left to zlib, at its own size.
 */
export async function decodeRecord(record: Buffer, key: Buffer | undefined, into?: Buffer, rawLength?: number): Promise<{ data: Buffer; id: string }> {
  let opened: OpenedRecord;
  try {
    // Sized by what it decodes to as well: 8 KiB of compressed zeros can be an 8 MiB chunk.
    const inline = Math.max(record.length, into?.length ?? rawLength ?? 0) < INLINE_BELOW;
    opened = inline ? addon().open(record, key ?? null, true, into ?? null) : await addon().open(record, key ?? null, false, into ?? null);
  } catch (err) {
    throw new RecordDecodeError((err as { code?: string }).code === 'ECOMPRESSION' ? 'decompression' : 'authentication', { cause: err });
  }
  const [payload, tag, hash] = opened;
  if (hash) return { data: payload, id: hash.toString('hex') };
  let data: Buffer;
  try {
    data = await decompressBlob(tag, payload, rawLength);
  } catch (err) {
    throw new RecordDecodeError('decompression', { cause: err });
  }
  return { data, id: await blobId(data) };
}

/**
 * Opens many records in one trip to the pool (a pack's small blobs on restore). Per
 * record: its data and SHA-256 (hex), or why it could not be decoded. LZ4, gzip and raw
 * records are decoded one after the other into `into` when given (sized from the index).
 */
export async function decodeRecords(records: Buffer[], key: Buffer | undefined, into?: Buffer, rawLengths?: number[]): Promise<({ data: Buffer; id: string } | RecordDecodeError)[]> {
  if (records.length === 0) return [];
  const [data, meta, ids] = await addon().openMany(records, key ?? null, into ?? null);
  return Promise.all(
    records.map(async (_, i) => {
      const m = i * 5; // offset, length, tag, failure, decoded
      if (meta[m + 3] === 1) return new RecordDecodeError('authentication', {});
      if (meta[m + 3] === 2) return new RecordDecodeError('decompression', {});
      if (meta[m + 4] === 1) return { data: (into ?? data).subarray(meta[m]!, meta[m]! + meta[m + 1]!), id: ids.toString('hex', i * 32, i * 32 + 32) };
      const payload = data.subarray(meta[m]!, meta[m]! + meta[m + 1]!);
      // brotli, or gzip the addon left alone (not one plain member): zlib decodes it here.
      try {
        const decoded = await decompressBlob(meta[m + 2]!, payload, rawLengths?.[i]);
        return { data: decoded, id: await blobId(decoded) };
      } catch (err) {
        return new RecordDecodeError('decompression', { cause: err });
      }
    }),
  );
}
