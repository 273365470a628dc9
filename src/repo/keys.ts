import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { UsageError, WrongPasswordError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import { readAll, type StorageAdapter } from '../storage/adapter.js';
import { DEFAULT_SCRYPT, deriveKey, SALT_BYTES, type ScryptParams, SEAL_OVERHEAD, seal, unseal } from './crypto.js';
import { rememberKeySlot, takeKeyDerivedAhead, takeNewSlotDerivedAhead } from './keys-ahead.js';

/**
 * Key slots (restic's internal/repository/key.go): each `keys/<id>` object wraps the
 * repository's one master key with a key derived from a password (scrypt), so several
 * passwords open the same repository and one can be removed without re-encrypting it.
 */

export interface KeyInfo {
  id: string;
  createdAt: string;
  hostname: string;
  username: string;
  current: boolean;
}

interface KeyFile {
  version: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  createdAt: string;
  hostname: string;
  username: string;
  data: string;
}

/** Every key slot, oldest first; `current` marks the one with id `currentKeyId`. */
export async function listKeys(adapter: StorageAdapter, currentKeyId: string | undefined): Promise<KeyInfo[]> {
  const keys: KeyInfo[] = [];
  for await (const obj of adapter.list('keys/')) {
    const id = obj.key.slice('keys/'.length);
    const file = JSON.parse((await readAll(await adapter.get(obj.key))).toString('utf8')) as KeyFile;
    keys.push({ id, createdAt: file.createdAt, hostname: file.hostname, username: file.username, current: id === currentKeyId });
  }
  return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Removes the one slot of `keys` (all of them, as listKeys gives) whose id starts with `id`; never the last one, nor the current one. Returns its full id. */
export async function removeKey(adapter: StorageAdapter, id: string, keys: readonly KeyInfo[]): Promise<string> {
  const matches = keys.filter((k) => k.id.startsWith(id));
  if (matches.length !== 1) throw new UsageError(matches.length === 0 ? `no key ${id} on ${adapter.name}` : `key id ${id} is ambiguous`);
  if (keys.length === 1) throw new UsageError(`refusing to remove the last key of ${adapter.name}: the data would be lost`);
  if (matches[0]!.current) throw new UsageError(`refusing to remove key ${id} of ${adapter.name}: it is the one this password opened; open with another password to remove it`);
  await adapter.delete(`keys/${matches[0]!.id}`);
  return matches[0]!.id;
}

/** A new key slot: `masterKey` wrapped with a key derived from `password`. Returns its id, and the salt and parameters it holds. */
export async function writeKeyFile(adapter: StorageAdapter, masterKey: Buffer, password: string): Promise<{ id: string; salt: Buffer; params: ScryptParams }> {
  // A first backup's launcher may have drawn the salt and derived the key already (keys-ahead.ts).
  const ahead = takeNewSlotDerivedAhead(password);
  const salt = ahead?.salt ?? randomBytes(SALT_BYTES);
  const params = ahead?.params ?? DEFAULT_SCRYPT;
  const wrapping = await (ahead?.key ?? deriveKey(password, salt, params));
  const file: KeyFile = {
    version: 1,
    kdf: 'scrypt',
    ...params,
    salt: salt.toString('base64'),
    createdAt: new Date().toISOString(),
    hostname: hostname(),
    username: userInfo().username,
    data: seal(wrapping, masterKey).toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(file));
  const id = sha256Hex(bytes);
  await adapter.put(`keys/${id}`, bytes);
  return { id, salt, params };
}

/**
 * The master key of the first key slot `password` opens and whose key `fits` (opens the
 * config). When slots open but none fits, the last one opened is returned, for the caller
 * to report the config as damaged.
 */
export async function unlockMasterKey(adapter: StorageAdapter, password: string, onKeyDerivation: (() => void) | undefined, fits: (key: Buffer) => boolean): Promise<{ key: Buffer; keyId: string }> {
  let unfit: { key: Buffer; keyId: string } | undefined;
  for await (const obj of adapter.list('keys/')) {
    const file = JSON.parse((await readAll(await adapter.get(obj.key))).toString('utf8')) as KeyFile;
    if (file.version !== 1 || file.kdf !== 'scrypt') continue;
    const salt = Buffer.from(file.salt, 'base64');
    const params = { N: file.N, r: file.r, p: file.p };
    // Started by the launcher while the CLI loaded, when an earlier run of this config opened this slot.
    const deriving = takeKeyDerivedAhead(password, salt, params) ?? deriveKey(password, salt, params);
    try {
      onKeyDerivation?.();
    } catch {
      // The caller's to handle: it must not fail the open, nor leave the derivation unheard.
    }
    onKeyDerivation = undefined;
    const wrapping = await deriving;
    const sealed = Buffer.from(file.data, 'base64');
    if (sealed.length !== 32 + SEAL_OVERHEAD) continue;
    let key: Buffer;
    try {
      key = unseal(wrapping, sealed);
    } catch {
      // Not this slot's password; try the next one.
      continue;
    }
    const unlocked = { key, keyId: obj.key.slice('keys/'.length) };
    if (fits(key)) {
      rememberKeySlot(salt, params);
      return unlocked;
    }
    unfit = unlocked;
  }
  if (unfit) return unfit;
  throw new WrongPasswordError(adapter.name);
}
