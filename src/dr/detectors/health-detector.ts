import type { Detector, Firing } from './detector.js';
import type { HealthCondition } from './health-condition.js';
import type { HealthSampler } from './health-sampler.js';

/** A health_check trigger: fires when its check's shared sampler reports the state the condition names. */
export class HealthDetector implements Detector {
  constructor(
    readonly scenarioId: string,
    readonly trigger: string,
    private readonly condition: HealthCondition,
    private readonly sampler: HealthSampler,
  ) {}

  async run(fire: (f: Firing) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const unsubscribe = this.sampler.subscribe((t) => {
      if (t.state === this.condition.firesWhen) fire({ trigger: this.trigger, at: t.at, failureAt: t.since, detail: `health check ${this.condition.check} is ${t.state}: ${t.detail}` });
    });
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    unsubscribe();
  }

  /** One sample decides: the `failures` threshold needs a run of samples that one look does not have. */
  async once(): Promise<Firing | undefined> {
    const sample = await this.sampler.sampleOnce();
    if (sample.ok !== (this.condition.firesWhen === 'up')) return undefined;
    return { trigger: this.trigger, at: new Date(), failureAt: sample.at, detail: `health check ${this.condition.check} is ${sample.ok ? 'up' : 'down'}: ${sample.detail ?? ''}` };
  }
}
