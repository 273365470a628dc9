import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import { withExample } from '../../with-example.js';
import { registerBackupCopy } from './copy.js';
import { registerBackupList } from './list.js';
import { registerBackupLogs } from './logs.js';
import { registerBackupPrune } from './prune.js';
import { registerBackupRepair } from './repair.js';
import { registerBackupRun } from './run.js';
import { registerBackupShow } from './show.js';
import { registerBackupStatus } from './status.js';
import { registerBackupVerify } from './verify.js';
import { registerBackupWatch } from './watch.js';

/** `bkdr backup`: one module per subcommand, registered in the order help lists them. */
export function registerBackup(program: Command, ctx: CliContext): void {
  const backup = withExample(program.command('backup').description('create, list, inspect, verify and prune backups'), 'bkdr backup run --source files');
  registerBackupRun(backup, ctx);
  registerBackupList(backup, ctx);
  registerBackupShow(backup, ctx);
  registerBackupStatus(backup, ctx);
  registerBackupLogs(backup, ctx);
  registerBackupVerify(backup, ctx);
  registerBackupRepair(backup, ctx);
  registerBackupPrune(backup, ctx);
  registerBackupCopy(backup, ctx);
  registerBackupWatch(backup, ctx);
}
