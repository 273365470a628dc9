import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, serveSettings } from '../serve-flags.js';
import { backupManager, drOrchestrator } from '../services.js';
import { registerServeInstall } from './serve-install.js';

export function registerServe(program: Command, ctx: CliContext): void {
  const serve = withExample(
    program
      .command('serve')
      .description('GraphQL API (/graphql), /metrics, /healthz and the DR hooks (/hooks/alertmanager, /hooks/trigger), behind bearer tokens')
      .option('--host <host>', `address to bind (default: serve.host in the config, else ${DEFAULT_SERVE_HOST})`)
      .option('--port <n>', `port to listen on, 0 for any free one (default: serve.port in the config, else ${DEFAULT_SERVE_PORT})`)
      .option('--cert <pem>', 'serve HTTPS with this certificate chain (PEM), with --key')
      .option('--key <pem>', 'the certificate’s private key (PEM), with --cert')
      .action(async (flags: { host?: string; port?: string; cert?: string; key?: string }) => {
        const loaded = await ctx.config();
        const configDir = dirname(resolve(loaded.filepath));
        const settings = serveSettings('serve', flags, loaded.config, configDir);
        // Loaded here, not with the program: GraphQL, yoga and prom-client would otherwise slow every other command's start.
        const [{ startServe }, { BusinessContinuityManager }] = await Promise.all([import('../../server/serve.js'), import('../../continuity/business-continuity-manager.js')]);
        const backup = await backupManager(ctx, { noPrompt: true });
        const services = {
          backupManager: backup,
          drOrchestrator: await drOrchestrator(ctx, backup),
          continuityManager: new BusinessContinuityManager({ config: loaded.config, configPath: loaded.filepath, catalog: backup.catalog, logger: ctx.logger }),
        };
        const running = await startServe({
          services,
          config: loaded.config,
          configDir,
          host: settings.host,
          port: settings.port,
          tls: settings.cert !== undefined && settings.key !== undefined ? { cert: readFileSync(settings.cert), key: readFileSync(settings.key) } : undefined,
          logger: ctx.logger,
        });
        process.stderr.write(`bkdr serve: listening on ${running.url} (/graphql, /metrics, /healthz, /hooks/*)\n`);
        // A service stops on SIGTERM: that is how it ends, so it exits 0 once its operations have recorded how they ended.
        await new Promise<void>((resolveStop) => {
          const onSignal = (signal: NodeJS.Signals) => {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            process.stderr.write(`bkdr serve: ${signal}: stopping; interrupting running operations\n`);
            resolveStop();
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
        });
        await running.stop();
        process.stderr.write('bkdr serve: stopped\n');
      }),
    'bkdr serve',
    'bkdr serve --host 0.0.0.0 --port 8443 --cert tls/cert.pem --key tls/key.pem',
  );
  registerServeInstall(serve, ctx);
}
