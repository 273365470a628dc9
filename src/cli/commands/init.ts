import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerInit(program: Command, _ctx: CliContext): void {
  withExample(
    notAvailableYet(
      program
        .command('init')
        .description('write a config (a wizard on a terminal; a working default with --yes)')
        .option('--format <format>', 'ts | json | yaml', 'ts')
        .option('--path <dir>', 'directory to back up in the default config (default: the current directory)')
        .option('--force', 'overwrite an existing config'),
    ),
    'bkdr init --yes --path /srv/app',
  );
}
