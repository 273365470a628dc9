import { CommanderError } from 'commander';
import { isBkdrError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { applyMallocPolicy } from '../core/malloc-policy.js';
import { keysDerivedAhead } from '../repo/keys-ahead.js';
import { buildProgram } from './program.js';
import { cliMessage } from './hints.js';
import { interruptFromPrompt } from './prompt-interrupt.js';

/**
 * Runs the CLI and returns the exit code. The only place that turns an error into
 * stderr text: one red line, and the stack only with --verbose / LOG_LEVEL=debug.
 */
export async function main(argv: string[] = process.argv): Promise<number> {
  applyMallocPolicy();
  // `bkdr backup list | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const { program, ctx } = buildProgram();
  const verbose = argv.includes('-v') || argv.includes('--verbose') || process.env['LOG_LEVEL']?.toLowerCase() === 'debug';
  const color = !argv.includes('--no-color') && !process.env['NO_COLOR'] && Boolean(process.stderr.isTTY);
  // The last net: an error no code path caught still ends as one line and exit 1, not a stack trace.
  // The run it interrupted is marked `died` by the next command, and its locks are stale.
  const crash = (err: unknown) => {
    printError(`internal error: ${err instanceof Error ? err.message : String(err)}`, false);
    if (verbose && err instanceof Error) process.stderr.write(`${describeWithCauses(err)}\n`);
    process.exit(ExitCode.Failed);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (thrown) {
    // every prompt whose Ctrl-C reaches us here (the init wizard, new passwords, confirmations)
    const err = interruptFromPrompt(thrown) ?? thrown;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.Ok;
      // commander prints nothing itself (outputError is silenced); its message starts with "error: "
      printError(err.message.replace(/^error: /, ''), color);
      return ExitCode.Usage;
    }
    const code = isBkdrError(err) ? err.exitCode : ExitCode.Failed;
    const message = cliMessage(err);
    printError(message.split('\n')[0] ?? message, color);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${describeWithCauses(err)}\n`);
    return code;
  } finally {
    const ahead = keysDerivedAhead();
    if (ahead && ahead.started > 0) ctx.logger.debug(`keys derived while the CLI loaded: ${ahead.taken} of ${ahead.started} taken`);
    ctx.close();
  }
}

function printError(line: string, color: boolean): void {
  const text = `bkdr: ${line}`;
  process.stderr.write(color ? `\u001b[31m${text}\u001b[39m\n` : `${text}\n`);
}

function describeWithCauses(err: Error): string {
  const parts: string[] = [err.stack ?? String(err)];
  let cause = err.cause;
  while (cause instanceof Error) {
    parts.push(`caused by: ${cause.stack ?? cause.message}`);
    cause = cause.cause;
  }
  return parts.join('\n');
}
