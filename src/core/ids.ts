import { createHash, randomBytes } from 'node:crypto';

/** A random 32-byte id as 64 hex characters (repository ids, run ids). */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The short form users type and see, like git's and restic's (8 hex characters). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
