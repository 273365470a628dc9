import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { planSchedule } from '../../scheduling/schedule-plan.js';
import { type BkdrConfigInput, cronScheduleSchema } from '../../config/schema.js';
import { validateConfig } from '../../config/validate.js';
import { DEFAULT_CONFIG_FILES, renderConfig } from '../../config/write-config.js';
import { ConfigError, UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { auditSafely, parseFormat } from './config.js';

export function registerInit(program: Command, ctx: CliContext): void {
  withExample(
    program
      .command('init')
      .description('write a config (a wizard on a terminal; a working default with --yes)')
      .option('--format <format>', 'ts | json | yaml', 'ts')
      .option('--path <dir>', 'directory to back up in the default config (default: the current directory)')
      .option('--force', 'overwrite an existing config')
      .action(async (flags: { format: string; path?: string; force?: boolean }) => {
        const format = parseFormat(flags.format);
        const file = resolve(ctx.options.config ?? DEFAULT_CONFIG_FILES[format]);
        if (existsSync(file) && !flags.force) throw new UsageError(`${file} already exists; pass --force to overwrite it`);
        const config = ctx.options.yes || !ctx.interactive ? defaultConfig(flags.path) : await wizard(flags.path);
        validateConfig(config, file);
        await writeFile(file, await renderConfig(config, format), { mode: 0o600 });
        process.stderr.write(`wrote ${file}\n`);
        if (!config.encryption?.passwordFile && !config.encryption?.passwordCommand) {
          process.stderr.write('the repository password comes from BKDR_PASSWORD (or BKDR_PASSWORD_FILE / BKDR_PASSWORD_COMMAND); keep it safe: without it the backups cannot be read\n');
        }
        await auditSafely(ctx, 'config.init', file, { format });
      }),
    'bkdr init --yes --path /srv/app',
  );
}

const GFS = { daily: 7, weekly: 4, monthly: 12, yearly: 3 };

function defaultConfig(path: string | undefined): BkdrConfigInput {
  return {
    sources: { files: { type: 'files', paths: [resolve(path ?? '.')] } },
    strategy: 'incremental',
    retention: GFS,
    destinations: [{ name: 'local', type: 'local', encryption: true, config: { path: resolve('.bkdr/repo') } }],
    compression: { enabled: true, algorithm: 'lz4' },
    encryption: {},
    catalog: { path: resolve('.bkdr/catalog.db') },
  };
}

/**
 * Each answer is checked where it is asked, so a wrong one is asked again instead of
 * failing the whole wizard at the end; the final validateConfig only confirms.
 */
async function wizard(path: string | undefined): Promise<BkdrConfigInput> {
  const { input, select, confirm } = await import('@inquirer/prompts');
  const pathList = (answer: string) =>
    answer
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  const paths = pathList(await input({ message: 'paths to back up (comma-separated)', default: resolve(path ?? '.'), validate: (a) => pathList(a).length > 0 || 'name at least one path' })).map((p) =>
    resolve(p),
  );
  const type = await select({
    message: 'destination',
    choices: [
      { name: 'local directory', value: 'local' },
      { name: 'S3 or S3-compatible', value: 's3' },
      { name: 'Google Cloud Storage', value: 'gcs' },
      { name: 'Azure Blob Storage', value: 'azure' },
      { name: 'FTP / FTPS', value: 'ftp' },
      { name: 'SFTP', value: 'sftp' },
    ] as const,
  });
  let destination: BkdrConfigInput['destinations'][number];
  switch (type) {
    case 'local':
      destination = { type, config: { path: resolve(await input({ message: 'repository directory', default: resolve('.bkdr/repo'), required: true })) } };
      break;
    case 's3':
      destination = { type, config: { bucket: await input({ message: 'bucket', required: true }), region: await input({ message: 'region', default: 'us-east-1' }) } };
      break;
    case 'gcs':
      destination = { type, config: { bucket: await input({ message: 'bucket', required: true }) } };
      break;
    case 'azure':
      destination = { type, config: { container: await input({ message: 'container', required: true }), accountName: await input({ message: 'storage account name', required: true }) } };
      break;
    case 'ftp':
      destination = {
        type,
        config: {
          host: await input({ message: 'host', required: true }),
          user: await input({ message: 'user', default: 'anonymous' }),
          secure: await confirm({ message: 'use FTPS (explicit TLS)?', default: true }),
        },
      };
      break;
    case 'sftp':
      destination = {
        type,
        config: {
          host: await input({ message: 'host', required: true }),
          username: await input({ message: 'user', required: true }),
          path: await input({ message: 'remote directory', default: 'bkdr' }),
        },
      };
      break;
  }
  const encrypted = await confirm({ message: 'encrypt the repository (AES-256-GCM)?', default: true });
  destination.encryption = encrypted;
  const passwordFile = encrypted ? await input({ message: 'password file (empty: BKDR_PASSWORD from the environment)', default: '' }) : '';
  const cron = (await input({ message: 'cron schedule, such as 0 2 * * * for 02:00 UTC daily (empty: none)', validate: checkCron })).trim();
  return {
    sources: { files: { type: 'files', paths } },
    strategy: 'incremental',
    retention: GFS,
    destinations: [destination],
    compression: { enabled: true, algorithm: 'lz4' },
    ...(cron ? { schedule: { type: 'cron' as const, expression: cron, timezone: 'UTC' } } : {}),
    encryption: passwordFile ? { passwordFile: resolve(passwordFile) } : {},
    catalog: { path: resolve('.bkdr/catalog.db') },
  };
}

/** A cron answer checked as the config schema and then the scheduler (croner) will check it; empty is no schedule. */
function checkCron(answer: string): true | string {
  if (!answer.trim()) return true;
  const parsed = cronScheduleSchema.safeParse({ type: 'cron', expression: answer.trim(), timezone: 'UTC' });
  if (!parsed.success) return parsed.error.issues[0]?.message ?? 'not a cron expression';
  try {
    planSchedule({ sources: {}, schedule: parsed.data, strategy: 'incremental' });
    return true;
  } catch (err) {
    if (err instanceof ConfigError) return err.problem;
    throw err;
  }
}
