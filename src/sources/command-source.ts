import type { Readable } from 'node:stream';
import { UsageError } from '../core/errors.js';
import { captureCommand, feedCommand, type StreamCapture, type StreamRestoreTarget, type StreamSource } from './stream-source.js';

/**
 * Any command's stdout (`etcdctl snapshot save -`, `redis-cli --rdb -`), run by
 * /bin/sh; restored to a file, or with `--pipe` into the configured `restoreCommand`.
 */
export function commandSource(source: string, command: string, filename: string | undefined, restoreCommand?: string | undefined): StreamSource {
  return {
    async restore(content: Readable, target: StreamRestoreTarget, signal?: AbortSignal): Promise<string> {
      if (target.database) {
        throw new UsageError(`source ${source} is a command source: it cannot be restored into a database`, {
          remedy: [{ option: 'pipe' }, { option: 'target', to: 'get its output as a file' }],
        });
      }
      if (!restoreCommand) {
        throw new UsageError(`source ${source} has no restoreCommand to pipe into (set sources.${source}.restoreCommand)`, { remedy: { option: 'target', to: 'get its output as a file instead' } });
      }
      await feedCommand(`restore of ${source}`, '/bin/sh', ['-c', restoreCommand], content, { signal });
      return `piped into: ${restoreCommand}`;
    },
    async capture(signal?: AbortSignal): Promise<StreamCapture> {
      const { stream, finished } = captureCommand(`source ${source}`, '/bin/sh', ['-c', command], { signal });
      return { name: filename ?? `${source}.out`, describe: `command:${command}`, stream, finished };
    },
  };
}
