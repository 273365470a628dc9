import { join } from 'node:path';
import type { BkdrConfigInput } from 'bkdr';

/**
 * The application's `backupConfig`, in the shape of the brief, over the folder `dir`:
 * the snippets pass it to the factories, and their test writes it as the file that the
 * factories called with no argument load, so the two cannot drift apart.
 */
export function briefBackupConfig(dir: string): BkdrConfigInput {
  return {
    sources: {
      database: { type: 'sqlite', path: join(dir, 'app.db') },
      files: { type: 'files', paths: [join(dir, 'files')] },
    },
    strategy: 'incremental',
    retention: { daily: 7, weekly: 4, monthly: 12, yearly: 3 },
    destinations: [{ name: 'local', type: 'local', priority: 1, encryption: true, config: { path: join(dir, 'repo') } }],
    compression: { enabled: true, algorithm: 'lz4', level: 3 },
    verification: { enabled: true, checksumAlgorithm: 'sha256', testRestore: false },
    catalog: { path: join(dir, 'catalog.db') },
    scenarios: [
      {
        id: 'db-failure',
        name: 'Database Complete Failure',
        severity: 'critical',
        rto: 30,
        rpo: 5,
        affectedSystems: ['database'],
        triggers: [{ type: 'external', condition: 'database_down' }],
        recoveryPlans: ['database-recovery'],
      },
    ],
    recoveryPlans: { 'database-recovery': { steps: [{ id: 'failover', type: 'command', command: 'true' }] } },
    drTests: { quarterly: { type: 'integration', scenarios: ['db-failure'], schedule: { type: 'cron', expression: '0 3 1 */3 *' } } },
  };
}
