import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { renderCompletion } from '../completion-script.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';

export function registerCompletion(program: Command, _ctx: CliContext): void {
  withExample(
    program
      .command('completion <shell>')
      .description('print a completion script for bash, zsh or fish')
      .action((shell: string) => {
        if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new UsageError(`completion ${shell}: must be bash, zsh or fish`);
        process.stdout.write(renderCompletion(program, shell));
      }),
    'bkdr completion bash > /etc/bash_completion.d/bkdr',
  );
}
