import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerKey(program: Command, _ctx: CliContext): void {
  const key = withExample(program.command('key').description('repository key slots (several passwords per repository)'), 'bkdr key list');
  withExample(notAvailableYet(key.command('list').description('list key slots')), 'bkdr key list --json');
  withExample(notAvailableYet(key.command('add').description('add a password')), 'bkdr key add');
  withExample(notAvailableYet(key.command('passwd').description('change the current password')), 'bkdr key passwd');
  withExample(notAvailableYet(key.command('remove <id>').description('remove a key slot (never the last)')), 'bkdr key remove 3f2a9c1d');
}
