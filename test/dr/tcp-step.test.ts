import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/core/errors.js';
import { parseTarget, tcpStep } from '../../src/dr/tcp-step.js';
import { freePort } from '../helpers/free-port.js';
import { recordingContext, step } from '../helpers/dr-step.js';

let server: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.on('error', () => undefined);
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const run = (target: string, signal = new AbortController().signal) => tcpStep.run(step({ type: 'tcp', target }), recordingContext(), signal);

describe('parseTarget', () => {
  it.each([
    ['db:5432', 'db', 5432],
    ['127.0.0.1:80', '127.0.0.1', 80],
    ['[::1]:6379', '::1', 6379],
  ])('%s', (target, host, p) => expect(parseTarget(target)).toEqual({ host, port: p }));

  it('rejects a port out of range', () => expect(() => parseTarget('db:70000')).toThrow(OperationError));
});

describe('tcpStep', () => {
  it('succeeds once a connection opens', async () => {
    const before = connections;
    const outcome = await run(`127.0.0.1:${port}`);
    expect(outcome).toEqual({ detail: `connected to 127.0.0.1:${port}`, output: { address: `127.0.0.1:${port}` } });
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(before + 1);
  });

  it('fails on a closed port with the error code', async () => {
    const closed = await freePort();
    const err = await run(`127.0.0.1:${closed}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`cannot connect to 127.0.0.1:${closed}: ECONNREFUSED`);
  });

  it('fails on a name that does not resolve', async () => {
    await expect(run('no-such-host.invalid:80')).rejects.toThrow(/^cannot connect to no-such-host.invalid:80: (ENOTFOUND|EAI_AGAIN)/);
  });

  it('stops when the signal aborts, with its reason', async () => {
    // 192.0.2.0/24 (TEST-NET-1) is not routed: the connect hangs until aborted, or fails at once offline.
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('step timed out')), 100);
    await expect(run('192.0.2.1:9', controller.signal)).rejects.toThrow(/step timed out|cannot connect/);
  });

  it('does not connect on an aborted signal', async () => {
    await expect(run(`127.0.0.1:${port}`, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
