import { IntegrityError } from '../core/errors.js';
import { loadNativeAddon } from '../core/native-addon.js';
import { seal, unseal } from './crypto.js';

interface EnvelopeAddon {
  envelope(key: Buffer, part: Buffer, part2: Buffer | null, seal: boolean): Promise<Buffer>;
}

/** Below this an object is sealed on the calling thread: the hop to the pool costs more than the work. */
const ON_POOL_FROM = 256 * 1024;

/**
 * The envelope of a repository's stored objects other than blob records (index files,
 * pack headers, snapshots, side objects): sealed with the master key (AES-256-GCM), or
 * kept plain in an unencrypted repository.
 */
export class Envelope {
  /** The master key; undefined for an unencrypted repository. */
  readonly key: Buffer | undefined;
  /** The destination's name, for messages. */
  readonly #destination: string;

  constructor(key: Buffer | undefined, destination: string) {
    this.key = key;
    this.#destination = destination;
  }

  seal(plain: Buffer): Buffer {
    return this.key ? seal(this.key, plain) : plain;
  }

  /**
   * seal() of the parts one after the other, on the pool for a large object (a WAL file): the
   * same bytes, without encrypting, copying and hashing 16 MiB on the thread everything waits on.
   */
  async sealLarge(plain: Buffer, plain2?: Buffer): Promise<Buffer> {
    const size = plain.length + (plain2?.length ?? 0);
    if (!this.key) return plain2 ? Buffer.concat([plain, plain2]) : plain;
    if (size < ON_POOL_FROM) return seal(this.key, plain2 ? [plain, plain2] : plain);
    return loadNativeAddon<EnvelopeAddon>('bkdr_blob').envelope(this.key, plain, plain2 ?? null, true);
  }

  /** open() on the pool for a large object. */
  async openLarge(stored: Buffer, what: string): Promise<Buffer> {
    if (!this.key || stored.length < ON_POOL_FROM) return this.open(stored, what);
    try {
      return await loadNativeAddon<EnvelopeAddon>('bkdr_blob').envelope(this.key, stored, null, false);
    } catch (err) {
      throw this.#damaged(what, err);
    }
  }

  /** `what` names the object in the error when it fails authentication (the destination is added). */
  open(stored: Buffer, what: string): Buffer {
    if (!this.key) return stored;
    try {
      return unseal(this.key, stored);
    } catch (err) {
      throw this.#damaged(what, err);
    }
  }

  #damaged(what: string, cause: unknown): IntegrityError {
    return new IntegrityError(`${what} on ${this.#destination} fails authentication (damaged)`, { cause });
  }
}
