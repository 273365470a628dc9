import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerServe(program: Command, _ctx: CliContext): void {
  withExample(
    notAvailableYet(
      program
        .command('serve')
        .description('GraphQL API, /metrics, /healthz and alert webhooks')
        .option('--port <n>', 'port to listen on', '8080')
        .option('--host <host>', 'address to bind', '127.0.0.1'),
    ),
    'bkdr serve --port 9090',
  );
}
