import type { Command } from 'commander';
import { resolveNewPassword } from '../../runtime/password.js';
import { UsageError } from '../../core/errors.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';
import { collect } from '../options.js';
import { backupManager } from '../services.js';

interface KeyFlags {
  destination?: string[];
  newPasswordFile?: string;
}

export function registerKey(program: Command, ctx: CliContext): void {
  const key = withExample(program.command('key').description('repository key slots (several passwords per repository)'), 'bkdr key list');
  const destinationOption = ['--destination <name>', 'only this destination (repeatable)', collect] as const;
  const newPasswordOption = ['--new-password-file <file>', 'read the new password from this file (else BKDR_NEW_PASSWORD, else a prompt)'] as const;

  withExample(
    key
      .command('list')
      .description('list key slots')
      .option(...destinationOption)
      .action(async (flags: KeyFlags) => {
        const manager = await backupManager(ctx);
        const result = await manager.listKeys(flags.destination);
        ctx.render(result, (r) => {
          const table = createTable(['destination', 'key', 'created', 'host', 'user', 'in use']);
          for (const d of r) {
            if (!d.encrypted) table.push([d.destination, '(not encrypted)', '', '', '', '']);
            for (const k of d.keys) table.push([d.destination, k.id.slice(0, 8), shortTime(k.createdAt), k.hostname, k.username, k.current ? '*' : '']);
          }
          return table.toString();
        });
      }),
    'bkdr key list --json',
  );

  withExample(
    key
      .command('add')
      .description('add a password (a key slot) to every encrypted destination')
      .option(...destinationOption)
      .option(...newPasswordOption)
      .action(async (flags: KeyFlags) => {
        const manager = await backupManager(ctx);
        const password = await resolveNewPassword(flags.newPasswordFile, newPasswordPrompt(ctx));
        const added = await manager.addKey(password, flags.destination);
        ctx.render(added, (r) => r.map((a) => `${a.destination}: added key ${a.keyId.slice(0, 8)}`).join('\n') || 'no encrypted destination holds a repository');
      }),
    'bkdr key add --new-password-file /etc/bkdr/second-password',
  );

  withExample(
    key
      .command('passwd')
      .description('change the password: add a key for the new one, remove the one in use')
      .option(...destinationOption)
      .option(...newPasswordOption)
      .action(async (flags: KeyFlags) => {
        const manager = await backupManager(ctx);
        const password = await resolveNewPassword(flags.newPasswordFile, newPasswordPrompt(ctx));
        const changed = await manager.changePassword(password, flags.destination);
        ctx.render(
          changed,
          (r) => r.map((c) => `${c.destination}: password changed (key ${c.keyId.slice(0, 8)} added, ${c.removed.slice(0, 8)} removed)`).join('\n') || 'no encrypted destination holds a repository',
        );
      }),
    'BKDR_NEW_PASSWORD=... bkdr key passwd',
  );

  withExample(
    key
      .command('remove <id>')
      .description('remove a key slot (never the last, nor the one in use)')
      .option(...destinationOption)
      .action(async (id: string, flags: KeyFlags) => {
        if (!/^[0-9a-f]{4,64}$/.test(id)) throw new UsageError(`'${id}' is not a key id (4 to 64 hex characters, from \`bkdr key list\`)`);
        const manager = await backupManager(ctx);
        const removed = await manager.removeKey(id, flags.destination);
        ctx.render(removed, (r) => r.map((x) => `${x.destination}: removed key ${x.removed.slice(0, 8)}`).join('\n'));
      }),
    'bkdr key remove 3f2a9c1d',
  );
}

/** On a terminal: asks twice, so a typo does not lock anyone out. */
function newPasswordPrompt(ctx: CliContext): (() => Promise<string>) | undefined {
  if (!ctx.interactive) return undefined;
  return async () => {
    const { password } = await import('@inquirer/prompts');
    const first = await password({ message: 'new password', mask: true }, { output: process.stderr });
    const again = await password({ message: 'new password again', mask: true }, { output: process.stderr });
    if (first !== again) throw new UsageError('the two passwords differ; nothing was changed');
    if (!first) throw new UsageError('an empty password is not allowed');
    return first;
  };
}
