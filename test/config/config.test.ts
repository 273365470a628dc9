import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { migrateLegacyConfig } from '../../src/config/migrate-legacy.js';
import { redactConfig } from '../../src/config/redact.js';
import { validateConfig } from '../../src/config/validate.js';
import { ConfigValidationError } from '../../src/config/validation-error.js';
import type { BkdrConfigInput } from '../../src/config/schema.js';
import { renderConfig } from '../../src/config/write-config.js';
import { makeTempDir, repoRoot } from '../helpers/cli.js';

const minimal = { sources: { files: { type: 'files', paths: ['/srv'] } }, destinations: [{ type: 'local', config: { path: '/backup' } }] };

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    validateConfig(input);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err.issues;
    throw err;
  }
  return [];
}

describe('config validation', () => {
  it('loads the example config, a .ts file importing bkdr, without a build step', async () => {
    const loaded = await loadConfig({ configPath: join(repoRoot, 'backup.config.example.ts') });
    expect(loaded?.config.destinations.map((d) => [d.name, d.type, d.priority])).toEqual([
      ['offsite', 's3', 1],
      ['local', 'local', 2],
    ]);
    expect(Object.keys(loaded!.config.sources)).toEqual(['database', 'files']);
    expect(loaded?.config.compression).toEqual({ enabled: true, algorithm: 'lz4', level: 3 });
  });

  it.each([
    ['an unknown destination type', { ...minimal, destinations: [{ type: 'tape', config: {} }] }, 'destinations[0].type', /must be one of local, s3, gcs, azure, ftp, sftp \(got 'tape'\)/],
    [
      'a missing bucket',
      {
        ...minimal,
        destinations: [
          { type: 'local', config: { path: '/b' } },
          { type: 's3', config: {} },
        ],
      },
      'destinations[1].config.bucket',
      /^required$/,
    ],
    ['a misspelt key', { ...minimal, destinations: [{ type: 's3', config: { bucket: 'b', regoin: 'x' } }] }, 'destinations[0].config.regoin', /did you mean 'region'/],
    ['an unknown top-level key', { ...minimal, retension: { daily: 1 } }, 'retension', /did you mean 'retention'/],
    ['a wrong type', { ...minimal, retention: { daily: 'seven' } }, 'retention.daily', /must be a number/],
    ['a bad cron expression', { ...minimal, schedule: { type: 'cron', expression: '* *' } }, 'schedule.expression', /5 or 6 fields/],
    ['no destinations', { sources: {}, destinations: [] }, 'destinations', /at least one destination/],
    ['a gzip level only brotli has', { ...minimal, compression: { algorithm: 'gzip', level: 10 } }, 'compression.level', /gzip takes levels 0 to 9/],
  ])('names the field path for %s', (_what, input, path, message) => {
    const issue = issuesOf(input).find((i) => i.path === path);
    expect(issue, JSON.stringify(issuesOf(input))).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it('names destinations after their type when unique, and numbers them otherwise', () => {
    const c = validateConfig({
      ...minimal,
      destinations: [
        { type: 'local', config: { path: '/a' } },
        { type: 's3', config: { bucket: 'x' } },
        { type: 's3', config: { bucket: 'y' } },
      ],
    });
    expect(c.destinations.map((d) => d.name)).toEqual(['local', 's3-2', 's3-3']);
    expect(
      issuesOf({
        ...minimal,
        destinations: [
          { name: 'a', type: 'local', config: { path: '/a' } },
          { name: 'a', type: 'local', config: { path: '/b' } },
        ],
      }),
    ).toEqual([{ path: 'destinations[1].name', message: "'a' is already the name of destinations[0]" }]);
  });

  it('applies defaults', () => {
    const c = validateConfig(minimal);
    expect(c.strategy).toBe('incremental');
    expect(c.compression).toEqual({ enabled: true, algorithm: 'lz4' });
    expect(c.verification).toEqual({ enabled: true, checksumAlgorithm: 'sha256', testRestore: false });
    expect(c.destinations[0]).toMatchObject({ name: 'local', priority: 1, encryption: true });
  });

  describe('files', () => {
    let tmp: Awaited<ReturnType<typeof makeTempDir>>;
    beforeEach(async () => (tmp = await makeTempDir('bkdr-config-')));
    afterEach(() => tmp.cleanup());

    it('interpolates ${VAR} and ${VAR:-default} in JSON configs', async () => {
      const file = join(tmp.path, 'backup.config.json');
      await writeFile(file, JSON.stringify({ ...minimal, destinations: [{ type: 's3', config: { bucket: '${BUCKET}', region: '${REGION:-eu-west-1}' } }] }));
      const loaded = await loadConfig({ cwd: tmp.path, env: { BUCKET: 'from-env' } });
      expect(loaded?.config.destinations[0]?.config).toEqual({ bucket: 'from-env', region: 'eu-west-1' });
      await expect(loadConfig({ cwd: tmp.path, env: {} })).rejects.toThrow(/BUCKET is not set/);
    });

    it('finds YAML and package.json#bkdr configs by searching', async () => {
      await writeFile(join(tmp.path, 'package.json'), JSON.stringify({ name: 'x', bkdr: minimal }));
      expect((await loadConfig({ cwd: tmp.path }))?.filepath).toBe(join(tmp.path, 'package.json'));
      await writeFile(join(tmp.path, '.bkdrrc.yaml'), 'sources:\n  f: { type: files, paths: [/a] }\ndestinations:\n  - { type: local, config: { path: /b } }\n');
      expect((await loadConfig({ cwd: tmp.path }))?.filepath).toBe(join(tmp.path, '.bkdrrc.yaml'));
    });

    it.each(['ts', 'json', 'yaml'] as const)('writes %s configs that load back unchanged', async (format) => {
      const config: BkdrConfigInput = { ...(minimal as BkdrConfigInput), sources: { 'files-1': { type: 'files', paths: ['/a\\b', "/it's", '/new\nline'], exclude: [] } }, retention: { daily: 7 } };
      const file = join(tmp.path, `backup.config.${format}`);
      await writeFile(file, await renderConfig(config, format));
      const loaded = await loadConfig({ configPath: file });
      expect(loaded?.config.sources).toEqual(validateConfig(config).sources);
      if (format === 'ts') expect(await readFile(file, 'utf8')).toMatch(/^ {2}retention: \{\n {4}daily: 7,/m);
    });

    it('fails clearly for a missing --config file and returns nothing when none is found', async () => {
      await expect(loadConfig({ configPath: join(tmp.path, 'nope.ts') })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/not found/) as string });
      expect(await loadConfig({ cwd: tmp.path, required: false, env: {} })).toBeUndefined();
    });
  });
});

describe('redaction', () => {
  it('never leaves a secret value anywhere', () => {
    const secrets = ['AKIA-SECRET-KEY', 'pg-pass-123', 'ftp-pass', 'azure-key==', 'conn-string-secret', 'hmac-s3cret', 'private-key-pem', 'session-tok'];
    const config = validateConfig({
      sources: { db: { type: 'postgres', url: `postgres://backup:${secrets[1]}@db:5432/app` }, files: { type: 'files', paths: ['/x'] } },
      destinations: [
        { type: 's3', config: { bucket: 'b', accessKeyId: 'AKIAPUBLIC', secretAccessKey: secrets[0], sessionToken: secrets[7] } },
        { type: 'ftp', config: { host: 'h', user: 'u', password: secrets[2] } },
        { type: 'azure', config: { container: 'c', accountName: 'a', accountKey: secrets[3], connectionString: `DefaultEndpointsProtocol=https;AccountKey=${secrets[4]}` } },
        { type: 'gcs', config: { bucket: 'g', hmacAccessId: 'id', hmacSecret: secrets[5] } },
        { type: 'sftp', config: { host: 'h', username: 'u', privateKey: secrets[6] } },
      ],
    });
    const shown = JSON.stringify(redactConfig(config));
    for (const s of secrets) expect(shown).not.toContain(s);
    expect(shown).toContain('postgres://backup:***@db:5432/app');
    expect(shown).toContain('AKIAPUBLIC');
  });
});

describe('legacy migration', () => {
  it("turns the brief's legacy example into a valid config", () => {
    const { config, notes } = migrateLegacyConfig({ schedule: '0 2 * * *', retention: 30, destination: 's3://bucket' });
    const valid = validateConfig(config);
    expect(valid.schedule).toEqual({ type: 'cron', expression: '0 2 * * *', timezone: 'UTC' });
    expect(valid.retention).toEqual({ daily: 30 });
    expect(valid.destinations).toMatchObject([{ name: 's3', type: 's3', config: { bucket: 'bucket' } }]);
    expect(notes.join(' ')).toMatch(/daily: 30/);
  });

  it.each([
    ['sftp://backup@host.example/srv/backups', { type: 'sftp', config: { host: 'host.example', username: 'backup', path: '/srv/backups' } }],
    ['gs://bucket/some/prefix', { type: 'gcs', config: { bucket: 'bucket', prefix: 'some/prefix' } }],
    ['/var/backups', { type: 'local', config: { path: '/var/backups' } }],
    ['ftp://ftp.example:2121/dir', { type: 'ftp', config: { host: 'ftp.example', port: 2121, path: '/dir' } }],
  ])('maps %s', (url, expected) => {
    expect(validateConfig(migrateLegacyConfig({ destination: url }).config).destinations[0]).toMatchObject(expected);
  });

  it('rejects unknown legacy keys', () => {
    expect(() => migrateLegacyConfig({ destination: '/x', bogus: 1 })).toThrow(/bogus/);
  });
});
