import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/core/errors.js';
import { notifyStep } from '../../src/dr/notify-step.js';
import type { StepContext } from '../../src/dr/step-executor.js';
import { recordingContext, step } from '../helpers/dr-step.js';

interface Seen {
  url: string;
  contentType: string | undefined;
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

/** /fail answers 500; anything else 200. */
function handle(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ url: req.url ?? '', contentType: req.headers['content-type'], body });
    res.writeHead(req.url === '/fail' ? 500 : 200, { 'content-type': 'text/plain' });
    res.end(req.url === '/fail' ? 'internal error' : 'ok');
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

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  seen.length = 0;
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bkdr-notify-step-'));
  dirs.push(d);
  return d;
}

const execution = { id: 'exec-1', scenarioId: 'db-down', scenarioName: 'Database down' };
const context = (): StepContext => ({ ...recordingContext(), execution });
const run = (fields: Omit<Parameters<typeof step<'notify'>>[0], 'type'>, ctx = context()) => notifyStep.run(step({ type: 'notify', ...fields }), ctx, new AbortController().signal);

describe('notifyStep', () => {
  it('POSTs the message as JSON, Slack-compatible, with the execution and the time', async () => {
    const before = Date.now();
    const outcome = await run({ webhook: `${base}/hooks/T000/secret`, message: 'Failover to DR started' });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/hooks/T000/secret');
    expect(seen[0]?.contentType).toBe('application/json');
    const body = JSON.parse(seen[0]?.body ?? '') as Record<string, unknown>;
    expect(body).toMatchObject({ text: 'Failover to DR started', message: 'Failover to DR started', execution });
    expect(Date.parse(String(body['at']))).toBeGreaterThanOrEqual(before - 1_000);
    expect(outcome.detail).toBe(`notified: webhook ${new URL(base).host} answered 200`);
  });

  it('sends execution null without an execution', async () => {
    await run({ webhook: `${base}/`, message: 'hello' }, recordingContext());
    expect(JSON.parse(seen[0]?.body ?? '')).toMatchObject({ execution: null });
  });

  it('fails on a 500 with the status, naming the host but not the path', async () => {
    const err = await run({ webhook: `${base}/fail`, message: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`webhook ${new URL(base).host} answered 500, expected 2xx`);
  });

  it('runs the command with the message, execution id and scenario in its environment', async () => {
    const file = join(tempDir(), 'message');
    const outcome = await run({ command: `printf '%s|%s|%s' "$BKDR_MESSAGE" "$BKDR_EXECUTION_ID" "$BKDR_SCENARIO" > ${file}`, message: 'Restore of db finished' });
    expect(readFileSync(file, 'utf8')).toBe('Restore of db finished|exec-1|db-down');
    expect(outcome.detail).toBe('notified: command ran');
  });

  it('with both, runs the command even when the webhook fails, and fails', async () => {
    const file = join(tempDir(), 'message');
    await expect(run({ webhook: `${base}/fail`, command: `echo "$BKDR_MESSAGE" > ${file}`, message: 'both' })).rejects.toThrow('answered 500');
    expect(readFileSync(file, 'utf8')).toBe('both\n');
    expect(seen).toHaveLength(1);
  });

  it('fails with the command’s exit code and stderr', async () => {
    await expect(run({ command: 'echo "pager: no route" >&2; exit 2', message: 'x' })).rejects.toThrow('command exited with code 2: pager: no route');
  });
});
