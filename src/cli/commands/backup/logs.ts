import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { withExample } from '../../with-example.js';
import { backupManager } from '../../services.js';

export function registerBackupLogs(backup: Command, ctx: CliContext): void {
  withExample(
    backup
      .command('logs <runId>')
      .description('the structured log of one run')
      .action(async (runId: string) => {
        const manager = await backupManager(ctx);
        ctx.render(manager.getExecutionLogs(runId), (r) =>
          [
            `run ${r.run?.id} ${r.run?.kind} ${r.run?.status} started ${r.run?.startedAt}${r.run?.finishedAt ? ` finished ${r.run.finishedAt}` : ''}`,
            ...r.logs.map((l) => `${l.time} ${l.level.padEnd(5)} ${l.message}${l.fields && Object.keys(l.fields).length > 0 ? ` ${JSON.stringify(l.fields)}` : ''}`),
          ].join('\n'),
        );
      }),
    'bkdr backup logs 7c01e2b4',
  );
}
