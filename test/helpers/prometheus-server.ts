import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

/** The `prometheus` server binary on PATH (Debian's `prometheus` package installs /usr/bin/prometheus). */
const PROMETHEUS = (() => {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/bin']) {
    try {
      accessSync(join(dir, 'prometheus'), constants.X_OK);
      return join(dir, 'prometheus');
    } catch {
      // Not here.
    }
  }
  return undefined;
})();
export const prometheusAvailable = PROMETHEUS !== undefined;

export interface PrometheusServer {
  /** The server's base URL, http://127.0.0.1:<port>. */
  url: string;
  /** The server's recent stderr, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A throwaway Prometheus server: its own config and TSDB under a temporary directory,
 * loopback only on a free port (it cannot be told to take port 0), scraping the
 * `host:port` targets' /metrics every `scrapeInterval`. Not the package's system
 * service: that one, if the package started it, keeps its own port and data.
 */
export async function startPrometheus(opts: { scrapeTargets: string[]; scrapeInterval?: string }): Promise<PrometheusServer> {
  if (!PROMETHEUS) throw new Error('prometheus is not installed (Debian package `prometheus`)');
  const interval = opts.scrapeInterval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'bkdr-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: bkdr-test',
      '    static_configs:',
      `      - targets: [${opts.scrapeTargets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  let lastError = '';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode ?? child.signalCode}: ${log}`);
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.text();
      if (response.status === 200) break;
      lastError = `GET /-/ready answered ${response.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 30 s (${lastError}): ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, log: () => log, stop };
}
