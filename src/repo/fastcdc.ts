import { createHash } from 'node:crypto';

export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
  /** Hex seed the gear table is derived from; per repository, so boundaries don't fingerprint content across repositories. */
  seed: string;
}

export const DEFAULT_CHUNKER: Omit<ChunkerParams, 'seed'> = { minSize: 512 * 1024, avgSize: 1024 * 1024, maxSize: 8 * 1024 * 1024 };

/**
 * FastCDC (Xia et al., 2016) with normalized chunking: a gear rolling hash, a
 * stricter mask before the average size and a looser one after it, so chunk sizes
 * cluster around the average. 32-bit arithmetic keeps the inner loop in V8's
 * small-integer fast path; the masks use the hash's high bits, which depend on the
 * last 32 bytes.
 */
export class FastCdc {
  readonly params: ChunkerParams;
  readonly #gear: Uint32Array;
  readonly #maskS: number;
  readonly #maskL: number;

  constructor(params: ChunkerParams) {
    if (!(params.minSize > 0 && params.minSize <= params.avgSize && params.avgSize <= params.maxSize)) {
      throw new RangeError(`chunker sizes must satisfy 0 < min <= avg <= max (got ${params.minSize}/${params.avgSize}/${params.maxSize})`);
    }
    this.params = params;
    this.#gear = gearTable(params.seed);
    const bits = Math.round(Math.log2(params.avgSize));
    // Normalization level 2, as the paper recommends: two more bits before avg, two fewer after.
    this.#maskS = highBitsMask(bits + 2);
    this.#maskL = highBitsMask(bits - 2);
  }

  /**
   * Length of the next chunk of buf[start, end). Returns `end - start` when no cut
   * point lies in the range; callers that have more data must then not treat it as a
   * cut unless it reached maxSize or the input ended.
   */
  cutPoint(buf: Uint8Array, start: number, end: number): number {
    const { minSize, avgSize, maxSize } = this.params;
    let n = end - start;
    if (n <= minSize) return n;
    if (n > maxSize) n = maxSize;
    const normal = Math.min(n, avgSize);
    const gear = this.#gear;
    const maskS = this.#maskS;
    const maskL = this.#maskL;
    let hash = 0;
    let i = start + minSize;
    const normalEnd = start + normal;
    const limit = start + n;
    for (; i < normalEnd; i++) {
      hash = ((hash << 1) + gear[buf[i]!]!) >>> 0;
      if ((hash & maskS) === 0) return i - start + 1;
    }
    for (; i < limit; i++) {
      hash = ((hash << 1) + gear[buf[i]!]!) >>> 0;
      if ((hash & maskL) === 0) return i - start + 1;
    }
    return n;
  }
}

function highBitsMask(bits: number): number {
  const b = Math.max(1, Math.min(31, bits));
  return (0xffffffff << (32 - b)) >>> 0;
}

function gearTable(seed: string): Uint32Array {
  const table = new Uint32Array(256);
  for (let block = 0; block < 32; block++) {
    const digest = createHash('sha256').update(`bkdr-gear:${seed}:${block}`).digest();
    for (let j = 0; j < 8; j++) table[block * 8 + j] = digest.readUInt32LE(j * 4);
  }
  return table;
}

/**
 * Splits a stream of buffers into content-defined chunks. Input buffers are
 * typically large reads; a partial chunk at a buffer's end is carried into the next
 * one with a single copy, so each byte is copied at most once.
 */
export async function* chunkStream(source: AsyncIterable<Buffer>, chunker: FastCdc): AsyncGenerator<Buffer> {
  const { maxSize } = chunker.params;
  let carry: Buffer | undefined;
  for await (const input of source) {
    let buf: Buffer = input;
    if (carry) {
      buf = Buffer.concat([carry, input]);
      carry = undefined;
    }
    let pos = 0;
    while (buf.length - pos >= maxSize) {
      const len = chunker.cutPoint(buf, pos, buf.length);
      yield buf.subarray(pos, pos + len);
      pos += len;
    }
    // Less than maxSize left: a cut found here may not be final, since a cut depends only on
    // bytes before it; it is final. But a chunk that ends at the buffer's end is not.
    while (pos < buf.length) {
      const len = chunker.cutPoint(buf, pos, buf.length);
      if (pos + len === buf.length) break;
      yield buf.subarray(pos, pos + len);
      pos += len;
    }
    if (pos < buf.length) carry = buf.subarray(pos);
  }
  if (carry && carry.length > 0) yield carry;
}
