import { Readable } from 'node:stream';
import { UsageError } from '../core/errors.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';

/** Blobs fetched ahead of the consumer: enough to overlap storage latency, bounded in memory. */
const READ_AHEAD = 4;

/**
 * The content of a stream source's backup (a snapshot holding one file) as a stream,
 * for piping into pg_restore, a database client or a restore command. Every blob is
 * checked against its id as it is read.
 */
export async function streamBackupFile(repo: Repository, snapshot: Snapshot): Promise<{ name: string; size: number; stream: Readable }> {
  const nodes = await repo.loadTree(snapshot.tree);
  const file = nodes.length === 1 && nodes[0]!.type === 'file' ? nodes[0]! : undefined;
  if (!file) throw new UsageError(`backup ${snapshot.id.slice(0, 8)} of ${snapshot.source} is not a single-stream backup (a database or command source)`);
  const ids = file.content ?? [];
  async function* blobs(): AsyncGenerator<Buffer> {
    const pending: Promise<Buffer>[] = [];
    let next = 0;
    while (next < ids.length || pending.length > 0) {
      while (pending.length < READ_AHEAD && next < ids.length) pending.push(repo.loadBlob(ids[next++]!));
      yield await pending.shift()!;
    }
  }
  return { name: file.name.toString(), size: file.size ?? 0, stream: Readable.from(blobs(), { objectMode: false }) };
}
