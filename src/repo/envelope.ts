import { IntegrityError } from '../core/errors.js';
import { seal, unseal } from './crypto.js';

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

  /** `what` names the object in the error when it fails authentication (the destination is added). */
  open(stored: Buffer, what: string): Buffer {
    if (!this.key) return stored;
    try {
      return unseal(this.key, stored);
    } catch (err) {
      throw new IntegrityError(`${what} on ${this.#destination} fails authentication (damaged)`, { cause: err });
    }
  }
}
