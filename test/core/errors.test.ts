import { describe, expect, it } from 'vitest';
import { ConfigError, LockedError, type Setting, UsageError, withRemedies } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';

/** A front end's own words for the settings, as the CLI has them. */
const flags = { force: 'pass --force', target: 'pass --target <dir>', targetDatabase: 'pass --target-db <name>', source: 'pass --source <name>' } as Record<Setting, string>;

describe('errors name what to set in the domain, and a front end words its own hint', () => {
  it.each([
    [
      'a permission, with what it lets the operation do',
      new UsageError('restore target /srv/x is not empty', { remedy: { option: 'force', to: 'restore into it' } }),
      'restore target /srv/x is not empty; allow overwriting to restore into it',
      'restore target /srv/x is not empty; pass --force to restore into it',
    ],
    [
      'alternatives',
      new UsageError('source db: restoring into MySQL needs a database', {
        remedy: [
          { option: 'targetDatabase', to: 'restore into it' },
          { option: 'target', to: 'get the dump file' },
        ],
      }),
      'source db: restoring into MySQL needs a database; name a target database to restore into it, or name a target directory to get the dump file',
      'source db: restoring into MySQL needs a database; pass --target-db <name> to restore into it, or pass --target <dir> to get the dump file',
    ],
    [
      'after a statement ending in a colon',
      new UsageError('several physical postgres sources (a, b):', { remedy: { option: 'source' } }),
      'several physical postgres sources (a, b): name the source',
      'several physical postgres sources (a, b): pass --source <name>',
    ],
    ['no remedy', new UsageError('restore target /srv/x is not a directory'), 'restore target /srv/x is not a directory', 'restore target /srv/x is not a directory'],
  ])('%s', (_case, err, message, cli) => {
    expect(err.message).toBe(message);
    expect(err.message).not.toMatch(/--[a-z]/);
    expect(withRemedies(err.statement, err.remedies, flags)).toBe(cli);
  });

  it('keeps the exit code, the cause and the config path', () => {
    const cause = new Error('EACCES');
    const locked = new LockedError('destination local is locked by h:1', { remedy: { option: 'lockWait' }, cause });
    expect(locked.exitCode).toBe(ExitCode.Locked);
    expect(locked.cause).toBe(cause);
    expect(locked.message).toBe('destination local is locked by h:1; retry later, or wait for the lock');
    const config = new ConfigError('', 'no config found', { remedy: { option: 'config' } });
    expect([config.exitCode, config.problem, config.message]).toEqual([ExitCode.Usage, 'no config found', 'no config found; create one, or name the config file']);
  });
});
