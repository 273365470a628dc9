import { UsageError } from '../core/errors.js';
import type { KeyInfo } from '../repo/repository.js';
import type { BackupContext } from './backup-context.js';
import { onEachRepository } from './each-repository.js';

/** `key list`: the key slots of every (or the named) encrypted destination. */
export function listKeys(ctx: BackupContext, destinations?: string[]): Promise<{ destination: string; encrypted: boolean; keys: KeyInfo[] }[]> {
  return onEachRepository(ctx, destinations, 'key', async (repo, d) => ({ destination: d.name, encrypted: repo.encrypted, keys: repo.encrypted ? await repo.listKeys() : [] }));
}

/** `key add`: another password for every encrypted destination (or the named ones); no data is rewritten. */
export async function addKey(ctx: BackupContext, newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string }[]> {
  const added = await onEachRepository(ctx, destinations, 'key', async (repo, d) => (repo.encrypted ? { destination: d.name, keyId: await repo.addKey(newPassword) } : undefined));
  ctx.catalog.audit.append({ action: 'key.add', target: added.map((a) => a.destination).join(','), payload: { keys: added.map((a) => a.keyId.slice(0, 8)) } });
  return added;
}

/** `key passwd`: adds a slot for the new password, then removes the slot the current one opened. */
export async function changePassword(ctx: BackupContext, newPassword: string, destinations?: string[]): Promise<{ destination: string; keyId: string; removed: string }[]> {
  const changed = await onEachRepository(ctx, destinations, 'key', async (repo, d) => {
    if (!repo.encrypted || !repo.keyId) return undefined;
    const old = repo.keyId;
    const keyId = await repo.addKey(newPassword);
    await d.adapter.delete(`keys/${old}`);
    return { destination: d.name, keyId, removed: old };
  });
  ctx.catalog.audit.append({ action: 'key.passwd', target: changed.map((c) => c.destination).join(','), payload: { keys: changed.map((c) => c.keyId.slice(0, 8)) } });
  return changed;
}

/** `key remove`: removes the slot with this id (or prefix) wherever it is; never a last key or the one in use. */
export async function removeKey(ctx: BackupContext, id: string, destinations?: string[]): Promise<{ destination: string; removed: string }[]> {
  const removed = await onEachRepository(ctx, destinations, 'key', async (repo, d) => {
    if (!repo.encrypted || !(await repo.listKeys()).some((k) => k.id.startsWith(id))) return undefined;
    return { destination: d.name, removed: await repo.removeKey(id) };
  });
  if (removed.length === 0) throw new UsageError(`no key ${id} on ${(await ctx.destinations(destinations)).map((d) => d.name).join(', ')}`);
  ctx.catalog.audit.append({ action: 'key.remove', target: removed.map((r) => r.destination).join(','), payload: { keys: removed.map((r) => r.removed.slice(0, 8)) } });
  return removed;
}
