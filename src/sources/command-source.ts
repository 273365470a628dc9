import { captureCommand, type StreamCapture, type StreamSource } from './stream-source.js';

/** Any command's stdout (`etcdctl snapshot save -`, `redis-cli --rdb -`), run by /bin/sh. */
export function commandSource(source: string, command: string, filename: string | undefined): StreamSource {
  return {
    async capture(signal?: AbortSignal): Promise<StreamCapture> {
      const { stream, finished } = captureCommand(`source ${source}`, '/bin/sh', ['-c', command], { signal });
      return { name: filename ?? `${source}.out`, describe: `command:${command}`, stream, finished };
    },
  };
}
