import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { buildServeUnit } from '../../scheduling/unit-files.js';
import type { CliContext } from '../context.js';
import { withExample } from '../not-available.js';
import { unitTarget, unitUser } from '../unit-target.js';

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;

export function registerServeInstall(serve: Command, ctx: CliContext): void {
  withExample(
    serve
      .command('install')
      .description('print a systemd service that runs the API server')
      .option('--systemd', 'print a systemd service (bkdr-serve.service)')
      .option('--host <host>', `address to bind (default: serve.host in the config, else ${DEFAULT_HOST})`)
      .option('--port <n>', `port to listen on (default: serve.port in the config, else ${DEFAULT_PORT})`)
      .option('--cert <pem>', 'TLS certificate chain (PEM), with --key')
      .option('--key <pem>', 'TLS private key (PEM), with --cert')
      .action(async (flags: { systemd?: boolean }, install: Command) => {
        if (!flags.systemd) throw new UsageError('serve install: pass --systemd');
        const host = given(install, serve, 'host');
        const port = given(install, serve, 'port');
        const cert = given(install, serve, 'cert');
        const key = given(install, serve, 'key');
        if ((cert === undefined) !== (key === undefined)) throw new UsageError('serve install: --cert and --key go together');
        const loaded = await ctx.config();
        const unit = buildServeUnit(
          unitTarget(loaded),
          {
            host: host ?? loaded.config.serve?.host ?? DEFAULT_HOST,
            port: port !== undefined ? parsePort(port) : (loaded.config.serve?.port ?? DEFAULT_PORT),
            ...(cert !== undefined ? { cert: pemFile('--cert', cert) } : {}),
            ...(key !== undefined ? { key: pemFile('--key', key) } : {}),
          },
          unitUser(),
        );
        process.stdout.write(unit);
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

function parsePort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`serve install: --port ${value} is not a port (1-65535)`);
  return port;
}

/** Absolute, since the service does not start in this directory; checked now rather than at the service's first start. */
function pemFile(option: string, path: string): string {
  const absolute = resolve(path);
  if (!statSync(absolute, { throwIfNoEntry: false })?.isFile()) throw new UsageError(`serve install: ${option} ${absolute}: no such file`);
  return absolute;
}
