import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerRestore(program: Command, _ctx: CliContext): void {
  withExample(
    notAvailableYet(
      program
        .command('restore [backupId]')
        .description('restore a backup (or the newest one at a time) into a directory or an archive')
        .option('--at <time>', "newest backup taken at or before <time> (ISO-8601 or '2h ago', 'yesterday 18:00')")
        .option('--source <name>', 'source whose backups to consider')
        .option('--from <dest>', 'destination to read from')
        .option('--target <dir>', 'directory to restore into')
        .option('--include <glob>', 'restore only matching paths (repeatable)', collect)
        .option('--verify', 're-hash everything written')
        .option('--archive <file>', 'write a .tar.gz or .zip instead of files')
        .option('--force', 'restore into a non-empty target'),
    ),
    'bkdr restore --source files --at "2h ago" --target /tmp/restore',
    'bkdr restore 3f2a9c1d --archive backup.tar.gz',
  );
}
