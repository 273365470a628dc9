import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import { seal, unseal } from '../../src/repo/crypto.js';
import { Envelope } from '../../src/repo/envelope.js';

describe('Envelope: large objects sealed and opened on the pool', () => {
  const key = randomBytes(32);
  const envelope = new Envelope(key, 'local');
  const header = Buffer.from('{"name":"000000010000000000000001"}\n');
  const payload = randomBytes(2 * 2 ** 20);

  it('seals the parts as JavaScript does: JavaScript opens it, and it opens what JavaScript sealed', async () => {
    const sealed = await envelope.sealLarge(header, payload);
    expect(sealed.length).toBe(12 + header.length + payload.length + 16);
    expect(unseal(key, sealed).equals(Buffer.concat([header, payload]))).toBe(true);
    expect((await envelope.openLarge(seal(key, [header, payload]), 'x')).equals(Buffer.concat([header, payload]))).toBe(true);
    // A fresh nonce each time.
    expect((await envelope.sealLarge(header, payload)).subarray(0, 12).equals(sealed.subarray(0, 12))).toBe(false);
  });

  it('refuses a changed byte or another key as damage, naming the object', async () => {
    const sealed = await envelope.sealLarge(payload);
    sealed[sealed.length >> 1]! ^= 1;
    await expect(envelope.openLarge(sealed, 'WAL file x')).rejects.toThrow(IntegrityError);
    await expect(envelope.openLarge(sealed, 'WAL file x')).rejects.toThrow(/^WAL file x on local fails authentication \(damaged\)$/);
    await expect(new Envelope(randomBytes(32), 'local').openLarge(await envelope.sealLarge(payload), 'y')).rejects.toThrow(IntegrityError);
  });

  it('keeps an unencrypted repository’s objects plain', async () => {
    const plain = new Envelope(undefined, 'local');
    expect((await plain.sealLarge(header, payload)).equals(Buffer.concat([header, payload]))).toBe(true);
    expect((await plain.openLarge(payload, 'x')).equals(payload)).toBe(true);
  });
});
