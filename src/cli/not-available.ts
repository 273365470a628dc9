import type { Command } from 'commander';
import { NotAvailableError } from '../core/errors.js';

/** Marks a command of the contract that is registered but not built yet. */
export function notAvailableYet(command: Command): Command {
  return command.action(() => {
    throw new NotAvailableError(commandPath(command));
  });
}

export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function withExample(command: Command, ...examples: string[]): Command {
  return command.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}
