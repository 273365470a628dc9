import type { Repository } from '../repo/repository.js';
import type { Destination } from '../runtime/destinations.js';
import type { LockMode } from '../runtime/repository-session.js';
import type { BackupContext } from './backup-context.js';

/**
 * Runs `fn` on each destination's repository in turn (skipping destinations that hold
 * none), each opened with `mode` and released before the next is opened. The first
 * failure ends it: key and repair operations must not half-apply silently.
 */
export async function onEachRepository<T>(
  ctx: BackupContext,
  names: string[] | undefined,
  operation: string,
  fn: (repo: Repository, d: Destination) => Promise<T | undefined>,
  opts: { mode?: LockMode; tolerateDamagedIndex?: boolean } = {},
): Promise<T[]> {
  const out: T[] = [];
  const session = ctx.session();
  try {
    for (const destination of await ctx.destinations(names)) {
      const repo = await session.open(destination, { lock: { mode: opts.mode ?? 'shared', operation }, tolerateDamagedIndex: opts.tolerateDamagedIndex ?? false });
      if (!repo) continue;
      try {
        const value = await fn(repo, destination);
        if (value !== undefined) out.push(value);
      } finally {
        await session.release(destination);
      }
    }
  } finally {
    await session.close();
  }
  return out;
}
