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
 * cluster around the average. The masks use the 32-bit hash's high bits, which depend
 * on the last 32 bytes. This class holds the parameters; the cutting loop runs
 * natively (native/bkdr_blob.c, through blob-codec.ts chunkContent).
 */
export class FastCdc {
  readonly params: ChunkerParams;
  /** The gear table and masks, public for the native chunker (blob-codec.ts), which must cut identically. */
  readonly gear: Uint32Array;
  readonly maskS: number;
  readonly maskL: number;

  constructor(params: ChunkerParams) {
    if (!(params.minSize > 0 && params.minSize <= params.avgSize && params.avgSize <= params.maxSize)) {
      throw new RangeError(`chunker sizes must satisfy 0 < min <= avg <= max (got ${params.minSize}/${params.avgSize}/${params.maxSize})`);
    }
    this.params = params;
    this.gear = gearTable(params.seed);
    const bits = Math.round(Math.log2(params.avgSize));
    // Normalization level 2, as the paper recommends: two more bits before avg, two fewer after.
    this.maskS = highBitsMask(bits + 2);
    this.maskL = highBitsMask(bits - 2);
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
