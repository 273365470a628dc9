import { Command, Option } from 'commander';
import { CliContext } from './context.js';
import { registerAudit } from './commands/audit.js';
import { registerBackup } from './commands/backup/index.js';
import { registerBc } from './commands/bc.js';
import { registerCatalog } from './commands/catalog.js';
import { registerCompletion } from './commands/completion.js';
import { registerCompliance } from './commands/compliance.js';
import { registerConfig } from './commands/config.js';
import { registerDr } from './commands/dr.js';
import { registerInit } from './commands/init.js';
import { registerKey } from './commands/key.js';
import { registerRestore } from './commands/restore.js';
import { registerSchedule } from './commands/schedule.js';
import { registerServe } from './commands/serve.js';
import { registerWal } from './commands/wal.js';
import { withExample } from './with-example.js';

export const VERSION = '0.1.0';

/**
 * The whole command tree of CLI.md. Built without side effects so the completion
 * generator and tests can walk the same tree the user runs.
 */
export function buildProgram(): { program: Command; ctx: CliContext } {
  const program = new Command('bkdr');
  const ctx = new CliContext(program);
  program
    .description('backup, disaster recovery and business continuity')
    .version(VERSION, '-V, --version')
    .option('-c, --config <path>', 'config file (else BKDR_CONFIG, else searched from the current directory)')
    .option('--json', 'machine-readable result on stdout')
    .addOption(new Option('-q, --quiet', 'less output on stderr').conflicts('verbose'))
    .option('-v, --verbose', 'more output on stderr (same as LOG_LEVEL=debug)')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('--no-color', 'no colour or spinners (also NO_COLOR=1)')
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  withExample(program, 'bkdr init --yes', 'bkdr backup run', 'bkdr restore --at "2h ago" --target /tmp/restore');

  registerInit(program, ctx);
  registerConfig(program, ctx);
  registerBackup(program, ctx);
  registerRestore(program, ctx);
  registerSchedule(program, ctx);
  registerWal(program, ctx);
  registerDr(program, ctx);
  registerCompliance(program, ctx);
  registerBc(program, ctx);
  registerCatalog(program, ctx);
  registerAudit(program, ctx);
  registerKey(program, ctx);
  registerServe(program, ctx);
  registerCompletion(program, ctx);
  return { program, ctx };
}
