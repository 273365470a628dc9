import { Readable } from 'node:stream';

/** An inclusive-exclusive byte range: `{ offset, length }` reads bytes [offset, offset+length). */
export interface ByteRange {
  offset: number;
  length: number;
  /** A buffer of at least `length` bytes the adapter may read the range into (local files do). */
  into?: Buffer | undefined;
}

export interface ObjectInfo {
  key: string;
  size: number;
  modified?: Date;
}

export interface PutOptions {
  /** Size of the body when known in advance (lets adapters pick single vs multipart). */
  size?: number;
}

/**
 * An object written as it is made, then named (StorageAdapter.createStreamed): a pack is
 * written to its file as it fills, not held in memory whole until stored.
 */
export interface StreamedObject {
  /**
   * Writes from the front of `data`: all of it, or all but a tail shorter than a block
   * (direct I/O writes whole blocks), which the next call passes again. Resolves the
   * bytes written. Calls must not overlap.
   */
  append(data: Buffer): Promise<number>;
  /** Writes all of `tail` and makes the object durable; resolves the SHA-256 (hex) and size of all its bytes. */
  finish(tail: Buffer): Promise<{ sha256: string; size: number }>;
  /** Names the finished object `key`, as put would: it is either absent or complete. */
  commit(key: string): Promise<void>;
  /** Removes what was written, for an object that will not be committed; never rejects. */
  abort(): Promise<void>;
}

/**
 * The one thing a destination implements (DESIGN.md "Destinations"). Keys are
 * '/'-separated relative paths such as `data/ab/ab12…`. Writes are idempotent and
 * atomic: an object is either absent or complete, never half-visible.
 * Retries, limits and logging are wrappers around this interface, not adapter code.
 */
export interface StorageAdapter {
  /** The destination's name, for messages ('offsite'). */
  readonly name: string;
  /** Media kind for the 3-2-1 rule: 'local', 's3', 'azure', ... */
  readonly kind: string;
  put(key: string, body: Buffer | Readable, opts?: PutOptions): Promise<void>;
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** `undefined` when the object does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A new object to be written as it is made and committed under a key of `dir` ('data'),
   * unseen by list until then. Only where writing in parts costs nothing (a local disk).
   */
  createStreamed?(dir: string): StreamedObject;
  close?(): Promise<void>;
}

/** Raised by adapters for a key that does not exist, so callers need not parse messages. */
export class ObjectNotFoundError extends Error {
  constructor(
    readonly destination: string,
    readonly key: string,
  ) {
    super(`${destination}: object ${key} not found`);
    this.name = 'ObjectNotFoundError';
  }
}

/** Where bytesReadable keeps the bytes of its stream, for readAll. */
const IN_MEMORY = Symbol('bytes in memory');

/**
 * A stream of bytes already read whole (a local adapter's ranged read), which readAll
 * hands back as they are. Iterated, even a stream of one chunk took 50-180 µs a call in a
 * command's cold start, and an incremental or a restore reads thousands of trees and spans.
 */
export function bytesReadable(bytes: Buffer): Readable {
  return Object.assign(Readable.from([bytes]), { [IN_MEMORY]: bytes });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const inMemory = (stream as { [IN_MEMORY]?: Buffer })[IN_MEMORY];
  if (inMemory) return inMemory;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  // One chunk is the object: joining would only copy it.
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
