import { createHash } from 'node:crypto';
import { IntegrityError } from '../core/errors.js';
import type { BlobType } from './blob-index.js';

/** Trailer magic: a pack ends with its header, the header's length, then these 8 bytes. */
export const PACK_MAGIC = Buffer.from('BKDRPK01');

export interface PackHeaderEntry {
  type: BlobType;
  id: string;
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

/** Collects blob records in memory until the pack is big enough to upload. */
export class PackBuilder {
  readonly #records: Buffer[] = [];
  readonly entries: PackHeaderEntry[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get count(): number {
    return this.entries.length;
  }

  add(type: BlobType, id: string, record: Buffer, rawLength: number, compression: number): void {
    this.entries.push({ type, id, offset: this.#size, length: record.length, rawLength, compression });
    this.#records.push(record);
    this.#size += record.length;
  }

  /** The pack's bytes and id; `encodeHeader` seals the header in encrypted repositories. */
  finish(encodeHeader: (plain: Buffer) => Buffer): { id: string; bytes: Buffer } {
    const header = encodeHeader(Buffer.from(JSON.stringify({ version: 1, blobs: this.entries })));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const bytes = Buffer.concat([...this.#records, header, length, PACK_MAGIC]);
    return { id: createHash('sha256').update(bytes).digest('hex'), bytes };
  }
}

/** Reads a pack's header from its tail, so an index can be rebuilt from packs alone. */
export function parsePackHeader(tail: Buffer, packSize: number, decodeHeader: (sealed: Buffer) => Buffer, packId: string): PackHeaderEntry[] {
  if (tail.length < 12 || !tail.subarray(tail.length - 8).equals(PACK_MAGIC)) throw new IntegrityError(`pack ${packId.slice(0, 12)} has no valid trailer`);
  const headerLength = tail.readUInt32LE(tail.length - 12);
  if (headerLength + 12 > tail.length || headerLength + 12 > packSize) throw new IntegrityError(`pack ${packId.slice(0, 12)} has a bad header length`);
  const header = decodeHeader(tail.subarray(tail.length - 12 - headerLength, tail.length - 12));
  const parsed = JSON.parse(header.toString('utf8')) as { version: number; blobs: PackHeaderEntry[] };
  if (parsed.version !== 1) throw new IntegrityError(`pack ${packId.slice(0, 12)} has header version ${parsed.version}`);
  return parsed.blobs;
}
