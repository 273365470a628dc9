import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteServer {
  endpoint: string;
  /** Kills the server at once, as a crash would. */
  kill(): void;
  /** Starts it again on the same data (a new port). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function launch(location: string): Promise<{ child: ChildProcess; port: number }> {
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    // --disableTelemetry: azurite otherwise reports to an outside host; tests talk to loopback only.
    const child: ChildProcess = spawn(
      process.execPath,
      [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--skipApiVersionCheck', '--loose', '--silent', '--disableTelemetry'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const up = await new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (/successfully listen/i.test(output)) {
          clearInterval(poll);
          resolve(true);
        } else if (child.exitCode !== null || Date.now() - started > 20_000) {
          clearInterval(poll);
          resolve(false);
        }
      }, 25);
    });
    if (up) return { child, port };
    lastError = output;
    child.kill('SIGKILL');
  }
  throw new Error(`azurite did not start: ${lastError}`);
}

/** Azurite's blob service on loopback, on a free port, over a throwaway directory. */
export async function startAzurite(): Promise<AzuriteServer> {
  const location = await mkdtemp(join(tmpdir(), 'bkdr-azurite-'));
  let current = await launch(location);
  const server: AzuriteServer = {
    endpoint: `http://127.0.0.1:${current.port}/${AZURITE_ACCOUNT}`,
    kill: () => {
      current.child.kill('SIGKILL');
    },
    restart: async () => {
      current = await launch(location);
      server.endpoint = `http://127.0.0.1:${current.port}/${AZURITE_ACCOUNT}`;
    },
    stop: async () => {
      current.child.kill('SIGKILL');
      await rm(location, { recursive: true, force: true });
    },
  };
  return server;
}
