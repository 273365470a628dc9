import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, runBkdr } from '../helpers/cli.js';

describe('bkdr command line', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-cli-');
    env = { BKDR_CATALOG: join(tmp.path, 'catalog.db'), BKDR_CONFIG: '' };
  });
  afterAll(() => tmp.cleanup());

  it('--help lists every command group of CLI.md', async () => {
    const r = await runBkdr(['--help'], { cwd: tmp.path, env });
    expect(r.code).toBe(0);
    for (const group of ['backup', 'restore', 'dr', 'compliance', 'bc', 'catalog', 'audit', 'key', 'schedule', 'config', 'init', 'serve', 'completion']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${group}\\b`, 'm'));
    }
    expect(r.stdout).toMatch(/Example/);
  });

  it('every command has --help with an example', async () => {
    for (const args of [['backup', 'run'], ['restore'], ['dr', 'trigger'], ['compliance', 'assess'], ['key', 'add'], ['schedule', 'install']]) {
      const r = await runBkdr([...args, '--help'], { cwd: tmp.path, env });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/Example[s]?:\n {2}\$ bkdr /);
    }
  });

  it('a server without tokens is refused in one line, exit 2, printing nothing on stdout', async () => {
    const config = join(tmp.path, 'no-tokens.json');
    await writeFile(config, JSON.stringify({ sources: {}, destinations: [{ type: 'local', config: { path: join(tmp.path, 'repo') } }] }));
    const r = await runBkdr(['-c', config, 'serve', '--port', '0'], { cwd: tmp.path, env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe('bkdr: serve.tokens: bkdr serve needs at least one token: every route but /healthz asks for one');
  });

  it('bad usage is exit 2 with one line; --verbose adds the stack', async () => {
    const unknown = await runBkdr(['bogus'], { cwd: tmp.path, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await runBkdr(['-c', join(tmp.path, 'nope.json'), 'backup', 'list'], { cwd: tmp.path, env });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toEqual([expect.stringMatching(/config file .*nope.json not found/)]);
    const verbose = await runBkdr(['-v', '-c', join(tmp.path, 'nope.json'), 'backup', 'list'], { cwd: tmp.path, env });
    expect(verbose.stderr).toMatch(/at .*load/);
  });

  it.each([
    ['JSON', 'bad.json', '{\n  "sources": {},\n    x: 1\n}\n', /bad\.json: invalid JSON at line 3 column 5: Expected double-quoted property name$/],
    // V8 gives no position for an unexpected token; the message must still say where.
    [
      'JSON (a trailing comma in an array)',
      'comma.json',
      '{\n  "sources": { "f": { "type": "files", "paths": ["/a",\n  ] } }\n}\n',
      /comma\.json: invalid JSON at line 3 column 3: Unexpected token '\]'$/,
    ],
    ['YAML', 'bad.yaml', 'sources:\n  a: 1\n   b: 2\n', /bad\.yaml: invalid YAML at line 3 column 5: bad indentation of a mapping entry$/],
    ['TypeScript', 'bad.ts', 'export default {\n  sources: {,\n};\n', /bad\.ts: invalid TypeScript at line 2 column 13: Unexpected token$/],
  ])('a config with a %s syntax error: one line naming the file, line and column, exit 2', async (_what, name, text, message) => {
    const file = join(tmp.path, name);
    await writeFile(file, text);
    const r = await runBkdr(['config', 'validate', '-c', file], { cwd: tmp.path, env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([expect.stringMatching(message)]);
    expect(r.stderr).toContain(file);
  });

  it('a .ts config importing a file with a syntax error names that file', async () => {
    await writeFile(join(tmp.path, 'helper.ts'), 'export const sources = {\n  files: (,\n};\n');
    const file = join(tmp.path, 'imports.ts');
    await writeFile(file, "import { sources } from './helper.ts';\nexport default { sources, destinations: [] };\n");
    const r = await runBkdr(['config', 'validate', '-c', file], { cwd: tmp.path, env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([expect.stringMatching(/helper\.ts: invalid TypeScript at line 2 column 11: /)]);
  });

  it('global options work after the subcommand too', async () => {
    const r = await runBkdr(['audit', 'list', '--json'], { cwd: tmp.path, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('config validate: the example passes, a tape destination fails naming destinations[0].type', async () => {
    const ok = await runBkdr(['config', 'validate', '-c', join(repoRoot, 'backup.config.example.ts')], { cwd: tmp.path, env });
    expect(ok.code, ok.stderr).toBe(0);
    const tape = join(tmp.path, 'tape.json');
    await writeFile(tape, JSON.stringify({ sources: {}, destinations: [{ type: 'tape', config: {} }] }));
    const bad = await runBkdr(['config', 'validate', '-c', tape], { cwd: tmp.path, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/destinations\[0\]\.type: must be one of/);
  });

  it('config show --json prints no secret given in the config', async () => {
    const file = join(tmp.path, 'secret.json');
    const secrets = ['S3-SECRET-VALUE', 'pg-password-value', 'ftp-password-value'];
    await writeFile(
      file,
      JSON.stringify({
        sources: { db: { type: 'postgres', url: `postgres://u:${secrets[1]}@db/app` } },
        destinations: [
          { type: 's3', config: { bucket: 'b', accessKeyId: 'AK', secretAccessKey: secrets[0] } },
          { type: 'ftp', config: { host: 'h', password: secrets[2] } },
        ],
      }),
    );
    const r = await runBkdr(['config', 'show', '--json', '-c', file], { cwd: tmp.path, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).destinations[0].config.secretAccessKey).toBe('***');
    for (const s of secrets) expect(r.stdout + r.stderr).not.toContain(s);
    const yaml = await runBkdr(['config', 'show', '-c', file], { cwd: tmp.path, env });
    for (const s of secrets) expect(yaml.stdout).not.toContain(s);
  });

  it('init --yes writes a config that validates (ts, json, yaml) and refuses to overwrite it', async () => {
    const dir = join(tmp.path, 'init');
    await mkdir(dir);
    const data = join(tmp.path, 'x');
    const init = await runBkdr(['init', '--yes', '--path', data], { cwd: dir, env: { BKDR_CATALOG: join(dir, 'c.db') } });
    expect(init.code, init.stderr).toBe(0);
    expect(await readFile(join(dir, 'backup.config.ts'), 'utf8')).toMatch(/defineConfig/);
    const validate = await runBkdr(['config', 'validate'], { cwd: dir, env: { BKDR_CONFIG: '' } });
    expect(validate.code, validate.stderr).toBe(0);
    const again = await runBkdr(['init', '--yes'], { cwd: dir, env: { BKDR_CATALOG: join(dir, 'c.db') } });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; pass --force/);
    for (const format of ['json', 'yaml']) {
      const r = await runBkdr(['init', '--yes', '--format', format, '--path', data], { cwd: dir, env: { BKDR_CATALOG: join(dir, 'c.db') } });
      expect(r.code, r.stderr).toBe(0);
      const v = await runBkdr(['config', 'validate', '-c', `backup.config.${format}`], { cwd: dir, env: {} });
      expect(v.code, v.stderr).toBe(0);
    }
  });

  it('config migrate turns the legacy shape into a valid config', async () => {
    const legacy = join(tmp.path, 'legacy.json');
    await writeFile(legacy, JSON.stringify({ schedule: '0 2 * * *', retention: 30, destination: 's3://bucket' }));
    const out = join(tmp.path, 'migrated.json');
    const r = await runBkdr(['config', 'migrate', legacy, '--format', 'json', '--out', out], { cwd: tmp.path, env });
    expect(r.code, r.stderr).toBe(0);
    const v = await runBkdr(['config', 'validate', '-c', out], { cwd: tmp.path, env });
    expect(v.code, v.stderr).toBe(0);
  });
});
