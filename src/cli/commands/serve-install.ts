import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { buildServeUnit } from '../../scheduling/unit-files.js';
import type { CliContext } from '../context.js';
import { withExample } from '../with-example.js';
import { DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, serveSettings } from '../serve-flags.js';
import { unitTarget, unitUser } from '../unit-target.js';

export function registerServeInstall(serve: Command, ctx: CliContext): void {
  withExample(
    serve
      .command('install')
      .description('print a systemd service that runs the API server')
      .option('--systemd', 'print a systemd service (bkdr-serve.service)')
      .option('--host <host>', `address to bind (default: serve.host in the config, else ${DEFAULT_SERVE_HOST})`)
      .option('--port <n>', `port to listen on (default: serve.port in the config, else ${DEFAULT_SERVE_PORT})`)
      .option('--cert <pem>', 'TLS certificate chain (PEM), with --key')
      .option('--key <pem>', 'TLS private key (PEM), with --cert')
      .action(async (flags: { systemd?: boolean }, install: Command) => {
        if (!flags.systemd) throw new UsageError('serve install: pass --systemd');
        const loaded = await ctx.config();
        const chosen = { host: given(install, serve, 'host'), port: given(install, serve, 'port'), cert: given(install, serve, 'cert'), key: given(install, serve, 'key') };
        const settings = serveSettings('serve install', chosen, loaded.config, dirname(resolve(loaded.filepath)));
        process.stdout.write(buildServeUnit(unitTarget(loaded), settings, unitUser()));
      }),
    'bkdr serve install --systemd --host 0.0.0.0 --cert tls/cert.pem --key tls/key.pem | sudo tee /etc/systemd/system/bkdr-serve.service',
  );
}

/**
 * The root command parses options wherever they stand on the line, so `serve`'s own
 * --host/--port take `serve install --port 9090`'s value before `install` sees it.
 * A value typed on the line counts wherever it landed; `serve`'s defaults do not, or they would hide the config's.
 */
function given(install: Command, serve: Command, name: string): string | undefined {
  const own: unknown = install.getOptionValue(name);
  if (own !== undefined) return String(own);
  const source = serve.getOptionValueSource(name);
  return source === 'cli' || source === 'env' ? String(serve.getOptionValue(name)) : undefined;
}
