import { userInfo } from 'node:os';
/** For options that may be repeated (`--source a --source b`): commander's collector. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The person behind a command, for `--by` and `--assessor` defaults: under sudo, the one who ran sudo. */
export function invokingUser(): string {
  try {
    return process.env['SUDO_USER'] ?? userInfo().username;
  } catch {
    return process.env['USER'] ?? 'unknown';
  }
}
