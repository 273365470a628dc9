import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolvePassword } from '../../runtime/password.js';
import { findWalGaps, WalArchive } from '../../backup/wal-archive.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';

/**
 * PostgreSQL WAL archiving. These run as the postgres user from archive_command and
 * restore_command: they read the config and the password, never the catalog.
 */
export function registerWal(program: Command, ctx: CliContext): void {
  const wal = withExample(program.command('wal').description('PostgreSQL WAL archive: archive_command, restore_command, gaps'), "archive_command = 'bkdr -c /etc/bkdr/backup.config.ts wal push %p'");
  const archive = async () => {
    const loaded = await ctx.config();
    return new WalArchive({ config: loaded.config, configDir: dirname(resolve(loaded.filepath)), password: () => resolvePassword(loaded.config.encryption, undefined), logger: ctx.logger });
  };

  withExample(
    wal
      .command('push <path>')
      .description('archive one WAL file to every destination (archive_command; idempotent)')
      .option('--source <name>', 'the physical postgres source (default: the only one)')
      .action(async (path: string, flags: { source?: string }) => {
        const a = await archive();
        const results = await a.push(a.source(flags.source), path);
        ctx.render(results, (r) => r.map((x) => `${x.destination}: ${x.result}`).join('\n'));
      }),
    'bkdr wal push --source database pg_wal/000000010000000000000003',
  );

  withExample(
    wal
      .command('fetch <name> <path>')
      .description('write an archived WAL file to path (restore_command); exit 1 when it is not archived')
      .option('--source <name>', 'the physical postgres source (default: the only one)')
      .action(async (name: string, path: string, flags: { source?: string }) => {
        const a = await archive();
        const from = await a.fetch(a.source(flags.source), name, path);
        // PostgreSQL asks for files that may not exist (the next timeline's history): not an error worth a line.
        if (!from) {
          ctx.logger.info(`wal fetch: ${name} is not archived`);
          process.exitCode = ExitCode.Failed;
          return;
        }
        ctx.logger.debug(`wal fetch: ${name} from ${from}`);
      }),
    'bkdr wal fetch --source database %f %p',
  );

  withExample(
    wal
      .command('verify')
      .description('report gaps in the archived WAL sequence (exit 5 when there are any)')
      .option('--source <name>', 'the physical postgres source (default: the only one)')
      .action(async (flags: { source?: string }) => {
        const a = await archive();
        const source = a.source(flags.source);
        const listed = await a.list(source);
        const files = listed?.files ?? [];
        const gaps = findWalGaps(files);
        const result = {
          source,
          destination: listed?.destination,
          files: files.length,
          first: files[0]?.name,
          last: files.at(-1)?.name,
          lastPushedAt: files
            .map((f) => f.pushedAt)
            .sort()
            .at(-1),
          gaps,
        };
        ctx.render(result, (r) => {
          const lines = [
            `${r.source}: ${r.files} WAL files archived${r.destination ? ` on ${r.destination}` : ''}${r.first ? `, ${r.first} … ${r.last}, last pushed ${shortTime(r.lastPushedAt!)}` : ''}`,
          ];
          if (r.gaps.length > 0) {
            const table = createTable(['timeline', 'missing from', 'missing to']);
            for (const g of r.gaps) table.push([g.timeline, g.from, g.to]);
            lines.push(table.toString(), 'GAPS: recovery cannot replay past the first missing segment');
          } else lines.push('no gaps');
          return lines.join('\n');
        });
        if (gaps.length > 0) process.exitCode = ExitCode.Damaged;
      }),
    'bkdr wal verify --source database',
  );
}
