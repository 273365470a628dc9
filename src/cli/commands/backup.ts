import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerBackup(program: Command, _ctx: CliContext): void {
  const backup = withExample(program.command('backup').description('create, list, inspect, verify and prune backups'), 'bkdr backup run --source files');
  withExample(
    notAvailableYet(
      backup
        .command('run')
        .description('create a backup of the named (default: all) sources')
        .option('--source <name>', 'source to back up (repeatable)', collect)
        .option('--type <type>', 'full | incremental | differential')
        .option('--destination <name>', 'destination to write (repeatable)', collect)
        .option('--tag <tag>', 'tag the snapshot (repeatable)', collect)
        .option('--priority <priority>', 'low | normal | high', 'normal')
        .option('--dry-run', 'show what would be backed up, write nothing'),
    ),
    'bkdr backup run --source files --type full --tag nightly',
  );
  withExample(
    notAvailableYet(
      backup
        .command('list')
        .description('list backups')
        .option('--source <name>', 'only this source')
        .option('--destination <name>', 'only this destination')
        .option('--since <time>', 'only backups taken at or after this time'),
    ),
    'bkdr backup list --since "2 days ago" --json',
  );
  withExample(
    notAvailableYet(backup.command('show <backupId>').description('details of one backup').option('--ls [path]', 'list the files it holds')),
    'bkdr backup show 3f2a9c1d --ls /srv/app',
  );
  withExample(
    notAvailableYet(backup.command('status').description('totals, recent failures, last backup per source, storage per destination, 3-2-1 state')),
    'bkdr backup status --json',
  );
  withExample(notAvailableYet(backup.command('logs <runId>').description('the structured log of one run')), 'bkdr backup logs 7c01e2b4');
  withExample(
    notAvailableYet(
      backup
        .command('verify [backupId]')
        .description('check backups: structure, data, test restore')
        .option('--all', 'verify every backup')
        .option('--read-data [percent]', 'download and check packs (all, or a rotating sample)')
        .option('--test-restore', 'restore into a temporary directory and compare'),
    ),
    'bkdr backup verify --all --read-data=10',
  );
  withExample(
    notAvailableYet(backup.command('prune').description('apply retention, then delete unreferenced data').option('--dry-run', 'show what would be forgotten')),
    'bkdr backup prune --dry-run',
  );
  withExample(
    notAvailableYet(
      backup
        .command('copy [backupIds...]')
        .description('copy backups between destinations')
        .requiredOption('--from <dest>', 'destination to read')
        .requiredOption('--to <dest>', 'destination to write'),
    ),
    'bkdr backup copy --from local --to offsite',
  );
  withExample(
    notAvailableYet(backup.command('watch').description('continuous strategy: snapshot changes within the RPO').option('--source <name>', 'source to watch (repeatable)', collect)),
    'bkdr backup watch --source files',
  );
}
