import type { Command } from 'commander';

/** Adds `Example:` lines to a command's --help: each command shows how it is used. */
export function withExample(command: Command, ...examples: string[]): Command {
  return command.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}
