import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolvePassword } from '../../runtime/password.js';
import { findWalGaps, WalArchive } from '../../backup/wal-archive.js';
import { ExitCode } from '../../core/exit-codes.js';
import { BkdrError, UsageError } from '../../core/errors.js';
import { binPath } from '../../core/package-root.js';
import { DEFAULT_PREFETCH, parseAsyncWalCall, runAsyncWalCall } from '../../backup/wal-async-client.js';
import { runWalFetchWorker } from '../../backup/wal-fetch-worker.js';
import { runWalPushWorker } from '../../backup/wal-push-worker.js';
import { walCommand } from '../../backup/wal-command.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';

/**
 * PostgreSQL WAL archiving. These run as the postgres user from archive_command and
 * restore_command: they read the config and the password, never the catalog.
 */
interface AsyncFlags {
  source?: string;
  async?: boolean;
  spool?: string;
  timeout?: string;
  prefetch?: string;
}

/**
 * `--async` when bin/bkdr.js did not answer it before the CLI loaded: the same call, or the
 * CLI's message for what is wrong with it.
 */
async function runAsync(op: 'push' | 'fetch', flags: AsyncFlags): Promise<number> {
  if (!flags.spool) throw new UsageError(`wal ${op} --async needs --spool <dir>`);
  const call = parseAsyncWalCall(process.argv.slice(2));
  if (!call) throw new UsageError(`wal ${op} --async: --timeout must be a number of seconds${op === 'fetch' ? ' and --prefetch a whole number of segments' : ''}`);
  return runAsyncWalCall(call, binPath());
}

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
      .option('--async', 'hand the file to a long-lived worker that stores several at once, ahead of being asked (needs --spool)')
      .option('--spool <dir>', 'the spool directory of --async, one per cluster (the cluster user writes it)')
      .option('--timeout <seconds>', 'with --async: how long to wait for the file to be stored', '60')
      .action(async (path: string, flags: AsyncFlags) => {
        if (flags.async) {
          process.exitCode = await runAsync('push', flags);
          return;
        }
        const a = await archive();
        const results = await a.push(a.source(flags.source), path);
        ctx.render(results, (r) => r.map((x) => `${x.destination}: ${x.result}`).join('\n'));
      }),
    'bkdr wal push --source database pg_wal/000000010000000000000003',
    'bkdr wal push --async --spool /var/spool/bkdr %p',
  );

  withExample(
    wal
      .command('fetch <name> <path>')
      .description('write an archived WAL file to path (restore_command); exit 1 when it is not archived')
      .option('--source <name>', 'the physical postgres source (default: the only one)')
      .option('--async', 'fetch through a long-lived worker that stages the next segments before they are asked for (needs --spool)')
      .option('--spool <dir>', 'the spool directory of --async (staged segments; on the file system of pg_wal, they are renamed into it)')
      .option('--prefetch <n>', 'with --async: segments kept staged ahead', String(DEFAULT_PREFETCH))
      .option('--timeout <seconds>', 'with --async: how long to wait for the file', '300')
      .action(async (name: string, path: string, flags: AsyncFlags) => {
        if (flags.async) {
          process.exitCode = await runAsync('fetch', flags);
          return;
        }
        let from: string | false;
        try {
          const a = await archive();
          from = await a.fetch(a.source(flags.source), name, path);
        } catch (err) {
          // Any failure but "not archived" stops a recovery, rather than ending it at this file (ExitCode.WalFetchFailed).
          throw new BkdrError((err as Error).message, ExitCode.WalFetchFailed, { cause: err });
        }
        // PostgreSQL asks for files that may not exist (the next timeline's history): not an error worth a line.
        if (!from) {
          ctx.logger.info(`wal fetch: ${name} is not archived`);
          process.exitCode = ExitCode.Failed;
          return;
        }
        ctx.logger.debug(`wal fetch: ${name} from ${from}`);
      }),
    'bkdr wal fetch --source database %f %p',
    'bkdr wal fetch --async --spool pg_wal/bkdr-spool %f %p',
  );

  withExample(
    wal
      .command('archive-command')
      .description("print postgresql.conf's archive_command for this config: native bkdr-wal with --async and a spool")
      .requiredOption('--spool <dir>', 'the spool directory, one per cluster (the cluster user writes it)')
      .option('--source <name>', 'the physical postgres source (default: the only one)')
      .action(async (flags: { spool: string; source?: string }) => {
        const a = await archive();
        const loaded = await ctx.config();
        const command = walCommand('push', { configPath: resolve(loaded.filepath), source: a.source(flags.source), spool: resolve(flags.spool) });
        ctx.render({ archiveCommand: command }, (r) => `archive_mode = on\narchive_command = '${r.archiveCommand.replace(/'/g, "''")}'`);
      }),
    'bkdr -c /etc/bkdr/backup.config.json wal archive-command --spool /var/spool/bkdr >> $PGDATA/postgresql.conf',
  );

  // The workers --async starts: one per spool, detached from the command PostgreSQL runs.
  wal
    .command('push-worker', { hidden: true })
    .requiredOption('--spool <dir>')
    .option('--source <name>')
    .action(async (flags: { spool: string; source?: string }) => {
      process.exitCode = await runWalPushWorker({ archive, source: flags.source, spool: resolve(flags.spool), logger: ctx.logger });
    });
  wal
    .command('fetch-worker', { hidden: true })
    .requiredOption('--spool <dir>')
    .option('--source <name>')
    .option('--prefetch <n>', '', String(DEFAULT_PREFETCH))
    .action(async (flags: { spool: string; source?: string; prefetch: string }) => {
      const prefetch = Number(flags.prefetch);
      if (!Number.isInteger(prefetch) || prefetch < 1) throw new UsageError(`--prefetch must be a whole number of segments, at least 1 (got ${flags.prefetch})`);
      process.exitCode = await runWalFetchWorker({ archive, source: flags.source, spool: resolve(flags.spool), prefetch, logger: ctx.logger });
    });

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
