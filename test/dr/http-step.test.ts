import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/core/errors.js';
import { httpStep } from '../../src/dr/http-step.js';
import { freePort } from '../helpers/free-port.js';
import { recordingContext, step } from '../helpers/dr-step.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

/** /status/503 answers 503; /slow never answers; anything else echoes 200. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (req.url === '/slow') return;
    const status = /^\/status\/(\d+)$/.exec(req.url ?? '')?.[1];
    res.writeHead(status ? Number(status) : 200, { 'content-type': 'text/plain' });
    res.end(status ? `status ${status}\nsecond line` : 'healthy');
  });
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const run = (fields: Omit<Parameters<typeof step<'http'>>[0], 'type'>, signal = new AbortController().signal) => httpStep.run(step({ type: 'http', ...fields }), recordingContext(), signal);

describe('httpStep', () => {
  it('GETs the url and succeeds on a 2xx', async () => {
    const outcome = await run({ url: `${base}/health` });
    expect(outcome).toEqual({ detail: `GET ${base}/health answered 200`, output: { status: 200, body: 'healthy' } });
  });

  it('sends the method, headers and body', async () => {
    seen.length = 0;
    await run({ url: `${base}/failover`, method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{"to":"dr"}' });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/failover', body: '{"to":"dr"}', headers: { authorization: 'Bearer t', 'content-type': 'application/json' } });
  });

  it('fails on a status outside 2xx with the status and the first line of the body', async () => {
    const err = await run({ url: `${base}/status/503` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`GET ${base}/status/503 answered 503, expected 2xx: status 503`);
  });

  it.each<[number | number[], string, boolean]>([
    [503, '/status/503', true],
    [[200, 204], '/status/204', true],
    [[200, 204], '/status/201', false],
    [301, '/health', false],
  ])('expectStatus %j against %s: succeeds %s', async (expectStatus, path, ok) => {
    const result = run({ url: `${base}${path}`, expectStatus });
    if (ok) await expect(result).resolves.toBeDefined();
    else await expect(result).rejects.toThrow(/expected/);
  });

  it('sends URL credentials as Basic authorization and never names them, nor the query, in its detail or error', async () => {
    const withSecrets = base.replace('http://', 'http://admin:S3CRETPW@');
    const ok = await run({ url: `${withSecrets}/health?token=ABCSECRET` });
    expect(ok.detail).toBe(`GET ${base}/health answered 200`);
    expect(seen.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('admin:S3CRETPW').toString('base64')}`);
    const err = (await run({ url: `${withSecrets}/status/503` }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(new RegExp(`^GET ${base}/status/503 answered 503`));
    const refused = (await run({ url: `http://admin:S3CRETPW@127.0.0.1:${await freePort()}/x?token=ABCSECRET` }).catch((e: unknown) => e)) as Error;
    expect(refused.message).toMatch(/ECONNREFUSED/);
    expect(`${err.message}${ok.detail}${refused.message}`).not.toMatch(/S3CRETPW|ABCSECRET|admin/);
  });

  it('fails with the connection error of a closed port', async () => {
    const port = await freePort();
    await expect(run({ url: `http://127.0.0.1:${port}/` })).rejects.toThrow(new RegExp(`^GET http://127.0.0.1:${port}/: connect ECONNREFUSED`));
  });

  it('stops when the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step timed out')), 100);
    const begin = Date.now();
    await expect(run({ url: `${base}/slow` }, controller.signal)).rejects.toThrow('step timed out');
    expect(Date.now() - begin).toBeLessThan(1_000);
  });
});
