import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BkdrConfig } from '../../config/schema.js';
import { ConfigError } from '../../core/errors.js';
import { BodyTooLargeError, readRequestBody } from '../../core/request-body.js';
import { readTokenFile, resolveServeTokens } from '../../config/serve-tokens.js';
import type { ExternalRequest, ExternalResponse } from './external-trigger.js';

/** Webhook payloads are a few KiB; anything near this is not one. */
const BODY_LIMIT = 1024 * 1024;

export interface ExternalListener {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The HTTP listener of `dr watch` for external triggers on `host` (default 127.0.0.1) and
 * `port` (0: any free port, the listener says which). It only carries requests to
 * `handle`; authentication and routes are the handler's.
 */
export async function startExternalListener(opts: { host?: string | undefined; port: number; handle: (req: ExternalRequest) => ExternalResponse }): Promise<ExternalListener> {
  const server = createServer((req, res) => {
    const send = (r: ExternalResponse) => {
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    };
    readRequestBody(req, BODY_LIMIT).then(
      (body) => send(opts.handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body })),
      (err: unknown) => {
        res.setHeader('connection', 'close');
        send(err instanceof BodyTooLargeError ? { status: 413, body: { error: err.message } } : { status: 400, body: { error: 'the request could not be read' } });
      },
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}

/**
 * The tokens the webhook listener accepts: monitoring.webhooks' own token (or tokenFile,
 * trimmed), else every `serve` token with role `operate`, since an external trigger can
 * start a recovery, which is operating. Relative token files resolve against `configDir`.
 */
export function resolveWebhookTokens(config: Pick<BkdrConfig, 'monitoring' | 'serve'>, configDir: string): string[] {
  const webhooks = config.monitoring?.webhooks;
  if (webhooks?.token !== undefined) return [webhooks.token];
  if (webhooks?.tokenFile !== undefined) return [readTokenFile(webhooks.tokenFile, configDir, 'monitoring.webhooks.tokenFile')];
  const tokens = resolveServeTokens(config, configDir)
    .filter((t) => t.role === 'operate')
    .map((t) => t.token);
  if (tokens.length === 0) throw new ConfigError('monitoring.webhooks', 'a token is required for external triggers: give token or tokenFile here, or a serve token with role operate');
  return tokens;
}
