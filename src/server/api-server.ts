import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { matchBearer } from '../core/bearer-token.js';
import { BodyTooLargeError, readRequestBody } from '../core/request-body.js';
import type { ServeToken } from '../config/serve-tokens.js';
import type { Logger } from '../core/logger.js';
import type { ExternalRequest, ExternalResponse } from '../dr/detectors/external-trigger.js';
import { maskBkdrError } from './mask-error.js';
import type { MetricsPayload } from './metrics.js';

/** GraphQL documents and webhook payloads are a few KiB; a body near this is not one. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** What a request carries into the schema once its token is known. */
export interface RequestIdentity {
  tokenName: string;
  role: ServeToken['role'];
}

export interface ApiServerOptions {
  schema: GraphQLSchema;
  tokens: readonly ServeToken[];
  host: string;
  /** 0: any free port (the server says which). */
  port: number;
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Origins allowed to call from a browser; none (no CORS headers) unless configured. */
  corsOrigins?: readonly string[] | undefined;
  bodyLimit?: number;
  /** Query limits: nesting depth, cost (graphql-armor's weighting of objects and depth), aliases. */
  limits?: { depth?: number; cost?: number; aliases?: number };
  metrics: () => Promise<MetricsPayload>;
  /** Whether the catalog answers, for /healthz. */
  healthy: () => boolean;
  /** The DR service's external triggers, when a scenario has one. */
  hooks?: () => ((req: ExternalRequest) => ExternalResponse) | undefined;
  logger: Logger;
}

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting; resolves once every connection has closed (see closeConnections). */
  close(): Promise<void>;
  /** Ends the connections still open: subscriptions, idle keep-alive ones. */
  closeConnections(): void;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * `bkdr serve`'s HTTP side (DESIGN.md "Serving"): /healthz open to all; /graphql,
 * /metrics and /hooks/* behind a bearer token from `serve.tokens`. A body over the limit
 * is refused by its declared length before it is read, and a request that does not
 * declare one is refused rather than read without bound.
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const yoga = createYoga<{ identity: RequestIdentity }>({
    schema: opts.schema,
    graphqlEndpoint: '/graphql',
    // The GraphiQL page loads its code from a CDN: not on a backup server.
    graphiql: false,
    landingPage: false,
    cors: opts.corsOrigins?.length ? { origin: [...opts.corsOrigins], credentials: false, methods: ['GET', 'POST'] } : false,
    maskedErrors: { maskError: (error, message) => maskBkdrError(error, message, opts.logger) },
    logging: false,
    plugins: [maxDepthPlugin({ n: opts.limits?.depth ?? 10 }), costLimitPlugin({ maxCost: opts.limits?.cost ?? 5000 }), maxAliasesPlugin({ n: opts.limits?.aliases ?? 15, allowList: [] })],
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0]!.replace(/\/+$/, '') || '/';
    if (path === '/healthz') {
      const ok = opts.healthy();
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'catalog unavailable' });
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > bodyLimit) {
      sendJson(res, 413, { error: `the body is larger than ${bodyLimit} bytes` }, { connection: 'close' });
      req.destroy();
      return;
    }
    if (declared === undefined && req.headers['transfer-encoding'] !== undefined) {
      sendJson(res, 411, { error: 'a request body needs a Content-Length' }, { connection: 'close' });
      return;
    }
    if (path.startsWith('/hooks/')) {
      // The hooks check their own tokens (monitoring.webhooks', else the operate ones): an unauthenticated caller learns nothing.
      const hooks = opts.hooks?.();
      let body: string;
      try {
        body = await readRequestBody(req, bodyLimit);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        sendJson(res, 413, { error: err.message }, { connection: 'close' });
        return;
      }
      if (!hooks) {
        const known = matchBearer(req.headers.authorization, opts.tokens);
        if (!known) sendJson(res, 401, { error: 'a valid Authorization: Bearer token is required' }, { 'www-authenticate': 'Bearer' });
        else sendJson(res, 404, { error: 'no scenario has an external trigger' });
        return;
      }
      const answer = hooks({ method: req.method ?? 'GET', path, headers: req.headers, body });
      sendJson(res, answer.status, answer.body);
      return;
    }
    const token = matchBearer(req.headers.authorization, opts.tokens);
    if (!token) {
      // A browser's CORS preflight carries no credentials: yoga answers it (with nothing but headers) when origins are configured.
      if (req.method === 'OPTIONS' && path === '/graphql' && opts.corsOrigins?.length) await yoga(req, res, { identity: { tokenName: '', role: 'read' } });
      else sendJson(res, 401, { error: 'a valid Authorization: Bearer token is required' }, { 'www-authenticate': 'Bearer' });
      return;
    }
    if (path === '/metrics') {
      const { contentType, body } = await opts.metrics();
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
      return;
    }
    if (path === '/graphql') {
      // Called as the node handler: its handleNodeRequestAndResponse never answers on Node 20 (graphql-yoga 5.24).
      await yoga(req, res, { identity: { tokenName: token.name, role: token.role } });
      return;
    }
    sendJson(res, 404, { error: `no such route: ${path}; /graphql, /metrics, /healthz, /hooks/alertmanager, /hooks/trigger` });
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      opts.logger.error(`${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error; see the server log' });
      else res.destroy();
    });
  };
  // A request (headers and body; not a response, so not a subscription) has 30 s to arrive: a trickled body does not hold a socket for Node's 5 minutes.
  const timeouts = { requestTimeout: 30_000, headersTimeout: 15_000 };
  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, ...timeouts }, listener) : createHttpServer(timeouts, listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold the close until they time out.
        server.closeIdleConnections();
      }),
    closeConnections: () => server.closeAllConnections(),
  };
}
