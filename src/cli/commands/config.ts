import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { migrateLegacyConfig } from '../../config/migrate-legacy.js';
import { redactConfig } from '../../config/redact.js';
import { validateConfig } from '../../config/validate.js';
import { ConfigValidationError } from '../../config/validation-error.js';
import { type ConfigFormat, renderConfig } from '../../config/write-config.js';
import { ConfigError, UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';

export function registerConfig(program: Command, ctx: CliContext): void {
  const config = withExample(program.command('config').description('validate, show and migrate the configuration'), 'bkdr config validate');

  withExample(
    config
      .command('validate')
      .description('validate the configuration; every problem is listed with its field path')
      .action(async () => {
        try {
          const loaded = await ctx.config();
          const sources = Object.keys(loaded.config.sources).length;
          ctx.render(
            { valid: true, file: loaded.filepath, sources, destinations: loaded.config.destinations.length },
            (r) => `config OK: ${r.file} (${r.sources} sources, ${r.destinations} destinations)`,
          );
        } catch (err) {
          if (!(err instanceof ConfigValidationError) || err.issues.length < 2) throw err;
          for (const issue of err.issues) process.stderr.write(`bkdr: ${issue.path}: ${issue.message}\n`);
          throw new ConfigError('', `${err.issues.length} problems in ${err.file ?? 'the config'}`, { cause: err });
        }
      }),
    'bkdr config validate -c backup.config.ts',
  );

  withExample(
    config
      .command('show')
      .description('show the resolved configuration (defaults applied), secrets as ***')
      .action(async () => {
        const loaded = await ctx.config();
        const shown = redactConfig(loaded.config);
        if (ctx.options.json) ctx.printJson(shown);
        else process.stdout.write(`# ${loaded.filepath}\n${(await import('yaml')).stringify(shown)}`);
      }),
    'bkdr config show --json',
  );

  withExample(
    config
      .command('migrate <legacyFile>')
      .description('turn a legacy {schedule, retention, destination} config into the current shape')
      .option('--out <file>', 'write the result to a file instead of stdout')
      .option('--format <format>', 'ts | json | yaml', 'ts')
      .option('--force', 'overwrite --out if it exists')
      .action(async (legacyFile: string, flags: { out?: string; format: string; force?: boolean }) => {
        const format = parseFormat(flags.format);
        let legacy: unknown;
        try {
          legacy = JSON.parse(await readFile(legacyFile, 'utf8'));
        } catch (err) {
          throw new ConfigError('', `cannot read ${legacyFile}: ${(err as Error).message}`, { cause: err });
        }
        const { config: migrated, notes } = migrateLegacyConfig(legacy);
        validateConfig(migrated, legacyFile);
        for (const note of notes) process.stderr.write(`note: ${note}\n`);
        const text = await renderConfig(migrated, format);
        if (!flags.out) {
          process.stdout.write(text);
          return;
        }
        await writeFile(flags.out, text, { flag: flags.force ? 'w' : 'wx' }).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') throw new UsageError(`${flags.out} exists; pass --force to overwrite it`);
          throw err;
        });
        process.stderr.write(`wrote ${flags.out}\n`);
        await auditSafely(ctx, 'config.migrate', flags.out, { from: legacyFile, format });
      }),
    'bkdr config migrate legacy.json --out backup.config.ts',
  );
}

export function parseFormat(value: string): ConfigFormat {
  if (value !== 'ts' && value !== 'json' && value !== 'yaml') throw new UsageError(`--format ${value}: must be ts, json or yaml`);
  return value;
}

/** A written file must not be lost because the catalog cannot take the audit row; say so instead. */
export async function auditSafely(ctx: CliContext, action: string, target: string, payload: Record<string, unknown>): Promise<void> {
  try {
    await ctx.audit(action, target, payload);
  } catch (err) {
    process.stderr.write(`warning: could not record ${action} in the audit trail: ${(err as Error).message}\n`);
  }
}
