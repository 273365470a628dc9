import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BkdrConfigInput } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { OperationError, UsageError } from '../../src/core/errors.js';
import { sqlStep } from '../../src/dr/sql-step.js';
import type { StepContext } from '../../src/dr/step-executor.js';
import { recordingContext, step } from '../helpers/dr-step.js';
import { mariadbAvailable, type MariadbServer, startMariadbServer } from '../helpers/mariadb-server.js';
import { type PostgresServer, postgresAvailable, startPostgres } from '../helpers/postgres-server.js';

if (!postgresAvailable && process.env['CI']) throw new Error('CI must install postgresql for the sql step tests');
if (!mariadbAvailable && process.env['CI']) throw new Error('CI must install mariadb-server for the sql step tests');

type Fields = Omit<Parameters<typeof step<'sql'>>[0], 'type'>;

const withConfig = (sources: BkdrConfigInput['sources'], configDir?: string): StepContext => ({
  ...recordingContext(),
  config: validateConfig({ destinations: [{ type: 'local', config: { path: '/backup' } }], sources }),
  ...(configDir ? { configDir } : {}),
});

describe.skipIf(!postgresAvailable)('sqlStep against PostgreSQL', () => {
  let pg: PostgresServer;
  let url: string;
  const run = (fields: Fields, ctx: StepContext = recordingContext(), signal = new AbortController().signal) => sqlStep.run(step({ type: 'sql', ...fields }), ctx, signal);

  beforeAll(async () => {
    pg = await startPostgres();
    pg.sql('CREATE TABLE t (id int)');
    pg.sql('INSERT INTO t SELECT generate_series(1, 42)');
    // The socket directory as a query parameter: psql reads the whole URL as its dbname.
    url = `postgresql://postgres@/postgres?host=${encodeURIComponent(pg.host)}&port=${pg.port}`;
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('returns the first column of the first row, and succeeds when it is the expected number', async () => {
    const outcome = await run({ url, query: 'select count(*) from t', expect: 42 });
    expect(outcome).toEqual({ detail: 'select count(*) from t returned 42', output: { value: '42', rows: 1 } });
  });

  it('fails when the value is not the expected one', async () => {
    const err = await run({ url, query: 'select count(*) from t', expect: 41 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe('query returned 42, expected 41');
  });

  it.each<[string, string | number | boolean | null, boolean]>([
    ['select true', true, true],
    ['select false', true, false],
    ['select 1 = 1', 'true', false],
    ['select null', null, true],
    ['select id from t where id > 100', null, true],
    ["select 'primary', 2", 'primary', true],
    ['select 42.0', 42, true],
  ])('%s against expect %j: succeeds %s', async (query, expected, ok) => {
    const result = run({ url, query, expect: expected });
    if (ok) await expect(result).resolves.toBeDefined();
    else await expect(result).rejects.toThrow(/^query returned .*, expected /);
  });

  it('counts the rows and reads the first column of the first', async () => {
    const outcome = await run({ url, query: 'select id, id * 2 from t where id <= 3 order by id' });
    expect(outcome.output).toEqual({ value: '1', rows: 3 });
  });

  it('takes a libpq socket URL with a password, which WHATWG rejects, with the password moved out of it', async () => {
    const withPassword = `postgresql://postgres:s%40cret@/postgres?host=${encodeURIComponent(pg.host)}&port=${pg.port}`;
    await expect(run({ url: withPassword, query: 'select 1', expect: 1 })).resolves.toMatchObject({ output: { value: '1', rows: 1 } });
  });

  it('fails on a bad query with psql’s ERROR line, not its caret', async () => {
    const err = await run({ url, query: 'select * from no_such_table' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/^psql exited with code 1: ERROR: {1,2}relation "no_such_table" does not exist$/);
  });

  it('reaches a postgres source of the config', async () => {
    const ctx = withConfig({ db: { type: 'postgres', host: pg.host, port: pg.port, user: 'postgres', database: 'postgres' } });
    const outcome = await run({ source: 'db', query: 'select count(*) from t', expect: '42' }, ctx);
    expect(outcome.detail).toBe('select count(*) from t returned 42');
  });

  it('refuses a source that is not a database, and one that does not exist', async () => {
    const ctx = withConfig({ docs: { type: 'files', paths: ['/srv'] } });
    await expect(run({ source: 'docs', query: 'select 1' }, ctx)).rejects.toThrow(new UsageError('step s: source docs is a files source; a sql step needs a postgres or mysql source'));
    await expect(run({ source: 'nope', query: 'select 1' }, ctx)).rejects.toThrow(UsageError);
    await expect(run({ source: 'docs', query: 'select 1' })).rejects.toThrow(OperationError);
  });

  it('refuses a url of another scheme', async () => {
    await expect(run({ url: 'http://db/', query: 'select 1' })).rejects.toThrow('url must start with postgres://, postgresql://, mysql:// or mariadb://, not http://');
  });

  it('kills the client when the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step timed out')), 300);
    const begin = Date.now();
    await expect(run({ url, query: 'select pg_sleep(30)' }, recordingContext(), controller.signal)).rejects.toThrow('step timed out');
    expect(Date.now() - begin).toBeLessThan(3_000);
  });
});

describe.skipIf(!mariadbAvailable)('sqlStep against MariaDB', () => {
  let server: MariadbServer;
  let dir: string;

  beforeAll(async () => {
    server = await startMariadbServer();
    await server.query('CREATE DATABASE app; CREATE TABLE app.t (id int); INSERT INTO app.t VALUES (1), (2), (3)');
    dir = await mkdtemp(join(tmpdir(), 'bkdr-sql-step-'));
    await writeFile(join(dir, 'password'), `${server.password}\n`);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the query with mariadb against a mysql source, its password file relative to the config', async () => {
    const ctx = withConfig({ app: { type: 'mysql', socket: server.socket, user: server.user, passwordFile: 'password', database: 'app' } }, dir);
    const outcome = await sqlStep.run(step({ type: 'sql', source: 'app', query: 'select count(*), max(id) from t', expect: 3 }), ctx, new AbortController().signal);
    expect(outcome).toEqual({ detail: 'select count(*), max(id) from t returned 3', output: { value: '3', rows: 1 } });
    await expect(sqlStep.run(step({ type: 'sql', source: 'app', query: 'select count(*) from t', expect: 4 }), ctx, new AbortController().signal)).rejects.toThrow('query returned 3, expected 4');
  });

  it('reaches the server through a mysql:// url, its socket a query parameter', async () => {
    const url = `mysql://${server.user}:${encodeURIComponent(server.password)}@localhost/app?socket=${encodeURIComponent(server.socket)}`;
    const outcome = await sqlStep.run(step({ type: 'sql', url, query: 'select max(id) from t', expect: 3 }), recordingContext(), new AbortController().signal);
    expect(outcome.output).toEqual({ value: '3', rows: 1 });
  });
});
