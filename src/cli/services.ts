import { BackupManager } from '../backup/backup-manager.js';
import type { DisasterRecoveryOrchestrator } from '../dr/disaster-recovery-orchestrator.js';
import type { ContinuityContext } from '../continuity/continuity-context.js';
import { dirname } from 'node:path';
import { passwordFileFromEnv, resolvePassword } from '../runtime/password.js';
import { parseDuration } from '../core/duration.js';
import type { CliContext } from './context.js';
import { interruptFromPrompt } from './prompt-interrupt.js';

/** Builds the backup service for a command: config, catalog and the password chain of CLI.md. */
export async function backupManager(
  ctx: CliContext,
  opts: { lockWait?: string | undefined; readsBackups?: boolean; /** A server asks nobody: a prompt on its terminal would hold an API request. */ noPrompt?: boolean } = {},
): Promise<BackupManager> {
  const loaded = await ctx.config();
  // Commands that only read backups still work from the repositories when the catalog cannot be used.
  const catalog = opts.readsBackups ? await ctx.catalogOrRepositoriesOnly() : await ctx.catalog();
  const prompt =
    ctx.interactive && !opts.noPrompt
      ? async () => {
          const { password } = await import('@inquirer/prompts');
          // The prompt goes to stderr: stdout carries results only, even when it is a terminal.
          // It runs inside the service, which would count a Ctrl-C as one destination's failure
          // and go on: as an InterruptedError it stops the run.
          return password({ message: 'repository password', mask: true }, { output: process.stderr }).catch((err: unknown) => {
            throw interruptFromPrompt(err) ?? err;
          });
        }
      : undefined;
  return new BackupManager({
    config: loaded.config,
    configPath: loaded.filepath,
    catalog,
    // The password chain is resolved here, once, not inside the service (a library caller brings its own).
    passwordFile: passwordFileFromEnv(),
    password: () => resolvePassword(loaded.config.encryption, prompt),
    logger: ctx.logger,
    ...(opts.lockWait !== undefined ? { lockWaitMs: parseDuration(opts.lockWait, '--lock-wait') } : {}),
  });
}

/** Builds the DR service for a command, over the backup service its restore, backup and verify steps use. */
export async function drOrchestrator(ctx: CliContext, over?: BackupManager): Promise<DisasterRecoveryOrchestrator> {
  const loaded = await ctx.config();
  const backup = over ?? (await backupManager(ctx));
  const { DisasterRecoveryOrchestrator } = await import('../dr/disaster-recovery-orchestrator.js');
  return new DisasterRecoveryOrchestrator({ config: loaded.config, configPath: loaded.filepath, catalog: backup.catalog, backup, logger: ctx.logger });
}

/** What the continuity use cases read: the config, the catalog (the evidence), the clock. */
export async function continuityContext(ctx: CliContext): Promise<ContinuityContext> {
  const loaded = await ctx.config();
  return { config: loaded.config, configDir: dirname(loaded.filepath), catalog: await ctx.catalog(), logger: ctx.logger, now: () => new Date() };
}

/**
 * An AbortSignal that fires on SIGINT/SIGTERM so a run can stop cleanly (exit 130);
 * a second signal exits at once.
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('interrupted: finishing what is in flight (press again to exit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
