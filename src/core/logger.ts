/** Leveled logging to stderr; stdout is reserved for results. */
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

const rank: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

export interface Logger {
  readonly level: LogLevel;
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export type LogSink = (level: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>) => void;

export function createLogger(level: LogLevel, sink: LogSink = writeToStderr): Logger {
  const at = (l: Exclude<LogLevel, 'silent'>) => (message: string, fields?: Record<string, unknown>) => {
    if (rank[l] <= rank[level]) sink(l, message, fields);
  };
  return { level, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

function writeToStderr(level: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void {
  const suffix = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`${level === 'info' ? '' : `${level}: `}${message}${suffix}\n`);
}

export const silentLogger: Logger = createLogger('silent');

export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel | undefined {
  const value = env['LOG_LEVEL']?.toLowerCase();
  return value && value in rank ? (value as LogLevel) : undefined;
}
