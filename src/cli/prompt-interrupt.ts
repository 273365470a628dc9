import { InterruptedError } from '../core/errors.js';

/**
 * Ctrl-C at an @inquirer prompt never reaches us as SIGINT: the prompt reads raw keys
 * and rejects with ExitPromptError. That is the user interrupting, exit 130 (CLI.md).
 * Matched by name, as @inquirer's README does: its classes load only with a prompt,
 * and @inquirer/core is not our dependency.
 */
export function interruptFromPrompt(err: unknown): InterruptedError | undefined {
  return err instanceof Error && err.name === 'ExitPromptError' ? new InterruptedError('interrupted', { cause: err }) : undefined;
}
