import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerConfig(program: Command, _ctx: CliContext): void {
  const config = withExample(program.command('config').description('validate, show and migrate the configuration'), 'bkdr config validate');
  withExample(notAvailableYet(config.command('validate').description('validate the configuration')), 'bkdr config validate -c backup.config.ts');
  withExample(notAvailableYet(config.command('show').description('show the resolved configuration, secrets redacted')), 'bkdr config show --json');
  withExample(notAvailableYet(config.command('migrate <legacyFile>').description('turn a legacy {schedule, retention, destination} config into the current shape')), 'bkdr config migrate legacy.json');
}
