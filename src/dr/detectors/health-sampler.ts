import type { HealthSamplesTable } from '../../catalog/health-samples-table.js';
import type { Logger } from '../../core/logger.js';
import { sleep } from './abortable-sleep.js';
import { probeHealth, type HealthCheck, type ProbeResult, type RunSql } from './health-probe.js';

export const DEFAULT_HEALTH_INTERVAL_MS = 10_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 5_000;
export const DEFAULT_HEALTH_FAILURES = 3;

/** The check changed state: down after `failures` consecutive failed samples, up at the first passing one. */
export interface HealthTransition {
  state: 'up' | 'down';
  at: Date;
  /** down: the first failed sample of the run; up: the passing sample. */
  since: Date;
  detail: string;
}

/**
 * Samples one named health check for every trigger that names it, so two scenarios
 * watching `database_health` probe the database once per interval and write one series of
 * samples. It runs while at least one listener is subscribed. Every sample is appended to
 * the health samples table: that series is the availability evidence, down or not.
 */
export class HealthSampler {
  private readonly listeners = new Set<(t: HealthTransition) => void>();
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private state: 'unknown' | 'up' | 'down' = 'unknown';

  constructor(
    readonly name: string,
    private readonly check: HealthCheck,
    private readonly samples: HealthSamplesTable,
    private readonly log: Logger,
    private readonly runSql?: RunSql,
  ) {}

  subscribe(listener: (t: HealthTransition) => void): () => void {
    this.listeners.add(listener);
    if (!this.controller) {
      this.controller = new AbortController();
      this.state = 'unknown';
      this.loop = this.sampleUntil(this.controller.signal);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.stop();
    };
  }

  /** One sample, recorded like the others. */
  async sampleOnce(signal: AbortSignal = new AbortController().signal): Promise<ProbeResult & { at: Date }> {
    const at = new Date();
    const result = await probeHealth(this.check, this.check.timeout ?? DEFAULT_HEALTH_TIMEOUT_MS, this.runSql, signal);
    if (signal.aborted) return { ...result, at };
    try {
      this.samples.append({ check: this.name, ok: result.ok, at, latencyMs: result.latencyMs, ...(result.detail !== undefined ? { detail: result.detail } : {}) });
    } catch (err) {
      this.log.warn(`cannot record a sample of health check ${this.name}: ${(err as Error).message}`);
    }
    return { ...result, at };
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = undefined;
    await this.loop;
  }

  private async sampleUntil(signal: AbortSignal): Promise<void> {
    const interval = this.check.interval ?? DEFAULT_HEALTH_INTERVAL_MS;
    const threshold = this.check.failures ?? DEFAULT_HEALTH_FAILURES;
    let failures = 0;
    let firstFailure: Date | undefined;
    while (!signal.aborted) {
      const sample = await this.sampleOnce(signal);
      if (signal.aborted) return;
      const detail = sample.detail ?? '';
      if (sample.ok) {
        failures = 0;
        firstFailure = undefined;
        if (this.state !== 'up') this.emit({ state: 'up', at: new Date(), since: sample.at, detail });
      } else {
        failures++;
        firstFailure ??= sample.at;
        if (failures >= threshold && this.state !== 'down') this.emit({ state: 'down', at: new Date(), since: firstFailure, detail: `${failures} consecutive failed samples; last: ${detail}` });
      }
      await sleep(interval - (Date.now() - sample.at.getTime()), signal);
    }
  }

  private emit(t: HealthTransition): void {
    this.state = t.state;
    for (const listener of this.listeners) listener(t);
  }
}
