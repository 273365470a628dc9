import type { WatchRunEvent } from '../backup/backup-manager.js';
import type { BkdrConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { formatDuration } from './format.js';

/** The sources whose strategy (their own, else the config's) is `continuous`. */
export function continuousSources(config: BkdrConfig): string[] {
  return Object.keys(config.sources ?? {}).filter((n) => (config.sources?.[n]?.strategy ?? config.strategy) === 'continuous');
}

/** One stderr line per event of a continuous backup, for `backup watch` and `schedule run`. */
export function reportWatchEvent(e: WatchRunEvent, log: Logger): void {
  if (e.type === 'watching') log.info(`watch: ${e.source}: watching ${e.paths.join(', ')} (RPO ${formatDuration(e.rpoMs)})`);
  else if (e.type === 'change') log.debug(`watch: ${e.source}: changed ${e.path}`);
  else if (e.type === 'backup') {
    const age = e.oldestChangeAgeMs !== undefined ? `; oldest change waited ${formatDuration(e.oldestChangeAgeMs)}` : '';
    const line = `watch: ${e.source}: backup ${e.snapshotIds.map((id) => id.slice(0, 8)).join(', ') || '-'} ${e.status} (${e.changes} changes${age})${e.failures.length > 0 ? `: ${e.failures.join('; ')}` : ''}`;
    if (e.status === 'succeeded') log.info(line);
    else log.error(line);
  } else log.error(`watch: ${e.source}: ${e.error}`);
}
