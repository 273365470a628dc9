import { resolve } from 'node:path';
import type { BkdrSource } from '../config/schema.js';
import { commandSource } from './command-source.js';
import { mysqlSource } from './mysql-source.js';
import { postgresSource } from './postgres-source.js';
import { sqliteSource } from './sqlite-source.js';
import type { StreamSource } from './stream-source.js';

/** The stream source for a non-files source of the config. */
export function createStreamSource(name: string, config: Exclude<BkdrSource, { type: 'files' }>, configDir: string): StreamSource {
  switch (config.type) {
    case 'sqlite':
      return sqliteSource(resolve(configDir, config.path));
    case 'command':
      return commandSource(name, config.command, config.filename, config.restoreCommand);
    case 'mysql':
      return mysqlSource(name, config, configDir);
    case 'postgres':
      return postgresSource(name, config, configDir);
  }
}
