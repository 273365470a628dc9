import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WalSpool } from '../../src/backup/wal-spool.js';
import { processAlive } from '../../src/core/process-alive.js';

/** Stops the workers of a WAL spool (`wal push/fetch --async`) and waits until they are gone. */
export async function stopSpoolWorkers(spool: string): Promise<void> {
  for (const kind of ['push', 'fetch'] as const) {
    // Only a pid whose process holds the spool's lock is a worker's.
    if (!new WalSpool(spool, kind).workerAlive()) continue;
    const pid = Number(await readFile(join(spool, kind, 'worker.pid'), 'utf8').catch(() => ''));
    if (!pid || !processAlive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}
