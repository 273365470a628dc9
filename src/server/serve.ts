import type { BkdrServices } from '../api/services.js';
import type { BkdrConfig } from '../config/schema.js';
import { resolveServeTokens } from '../config/serve-tokens.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ExternalRequest, ExternalResponse } from '../dr/detectors/external-trigger.js';
import { type ApiServer, startApiServer } from './api-server.js';
import { collectMetrics } from './metrics.js';
import { sharedFor } from './schema/shared-for.js';
import { buildServeSchema } from './serve-schema.js';

export interface ServeOptions {
  services: BkdrServices;
  config: BkdrConfig;
  configDir: string;
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer } | undefined;
  logger: Logger;
  /** How often subscriptions look for a change, ms. */
  pollMs?: number;
}

export interface RunningServe {
  readonly url: string;
  /**
   * Graceful shutdown: stops accepting, interrupts the operations the API started and waits
   * until each has recorded how it ended, stops the external triggers, closes the services.
   */
  stop(): Promise<void>;
}

/**
 * `bkdr serve` (DESIGN.md "Serving"): GraphQL, /metrics, /healthz and the DR hooks over the
 * same services the CLI calls. The scenarios' external triggers are served here, on
 * /hooks/*; the other detectors stay `dr watch`'s.
 */
export async function startServe(opts: ServeOptions): Promise<RunningServe> {
  const tokens = resolveServeTokens(opts.config, opts.configDir);
  if (tokens.length === 0) throw new ConfigError('serve.tokens', 'bkdr serve needs at least one token: every route but /healthz asks for one');
  const { services } = opts;
  // One read of the repositories answers /metrics and `backupStatus` alike for a moment: a dashboard and a scraper polling together cost one walk.
  const backupStatus = sharedFor(() => services.backupManager.getBackupStatus(), 2000);
  const { schema, handle } = buildServeSchema(services, { backupStatus, ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}) });
  const catalog = services.backupManager.catalog;

  const watchStop = new AbortController();
  let hooks: ((req: ExternalRequest) => ExternalResponse) | undefined;
  const hasExternalTrigger = services.drOrchestrator.listScenarios().some((s) => s.triggers.some((t) => t.type === 'external'));
  const watching = hasExternalTrigger
    ? services.drOrchestrator.watch({ signal: watchStop.signal, onlyExternal: true, serveHooks: (h) => (hooks = h) }).catch((err: unknown) => {
        opts.logger.error(`external triggers stopped: ${err instanceof Error ? err.message : String(err)}`);
      })
    : Promise.resolve();

  let server: ApiServer;
  try {
    server = await startApiServer({
      schema,
      tokens,
      host: opts.host,
      port: opts.port,
      tls: opts.tls,
      corsOrigins: opts.config.serve?.corsOrigins,
      metrics: async () => collectMetrics({ config: opts.config, catalog, destinations: (await backupStatus().catch(() => undefined))?.destinations }),
      healthy: () => {
        try {
          catalog.runs.list({ limit: 1 });
          return true;
        } catch {
          return false;
        }
      },
      hooks: () => hooks,
      logger: opts.logger,
    });
  } catch (err) {
    watchStop.abort();
    await watching;
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    stop: () =>
      (stopping ??= (async () => {
        // No new connections; those open (subscriptions among them) see the operations end, then close.
        const closed = server.close();
        await handle.shutdown();
        watchStop.abort();
        await watching;
        server.closeConnections();
        await closed;
        await services.backupManager.close();
      })()),
  };
}
