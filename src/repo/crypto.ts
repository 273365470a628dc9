import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb } from 'node:crypto';

/** AES-256-GCM with a fresh random 96-bit nonce per message: nonce || ciphertext || tag. */
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/**
 * Nonces are drawn from a pool filled 4096 at a time: one call into the CSPRNG per blob
 * showed up in profiles of backups with many small files. Each slice is used once.
 */
const NONCE_POOL = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function freshNonce(): Buffer {
  if (poolOffset + NONCE_BYTES > pool.length) {
    pool = randomBytes(NONCE_BYTES * NONCE_POOL);
    poolOffset = 0;
  }
  // A copy, so the pool is never aliased by a message that outlives the next refill.
  const nonce = Buffer.from(pool.subarray(poolOffset, poolOffset + NONCE_BYTES));
  poolOffset += NONCE_BYTES;
  return nonce;
}

export function seal(key: Buffer, plaintext: Buffer | Buffer[]): Buffer {
  const nonce = freshNonce();
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const parts = Array.isArray(plaintext) ? plaintext : [plaintext];
  const out = [nonce, ...parts.map((p) => cipher.update(p)), cipher.final(), cipher.getAuthTag()];
  return Buffer.concat(out);
}

/** Opens a sealed message; throws when it was altered or the key is wrong. */
export function unseal(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw new Error('sealed message too short');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** A key slot's salt, in bytes (writeKeyFile, and the launcher for a new slot: keys-ahead.ts). */
export const SALT_BYTES = 32;

/** 2^15 × 8: about 32 MiB and ~0.1 s per attempt, restic's order of magnitude. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

export function deriveKey(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, 32, { ...params, maxmem: 256 * params.N * params.r + 16 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
