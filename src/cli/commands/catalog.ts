import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerCatalog(program: Command, _ctx: CliContext): void {
  const catalog = withExample(program.command('catalog').description('the local SQLite catalog'), 'bkdr catalog rebuild --from offsite');
  withExample(
    notAvailableYet(catalog.command('rebuild').description('rebuild the catalog from a repository').option('--from <dest>', 'destination to read')),
    'bkdr catalog rebuild --from local',
  );
}
