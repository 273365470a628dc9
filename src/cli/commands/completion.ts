import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerCompletion(program: Command, _ctx: CliContext): void {
  withExample(notAvailableYet(program.command('completion <shell>').description('print a completion script for bash, zsh or fish')), 'bkdr completion bash > /etc/bash_completion.d/bkdr');
}
