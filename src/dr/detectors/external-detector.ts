import type { Detector, Firing } from './detector.js';

/** Routes the condition names that requests carry to the external detectors listening for them. */
export class ExternalConditions {
  private readonly listeners = new Map<string, Set<(f: Firing) => void>>();

  /** The `onFiring` of handleExternalRequest. Returns whether any detector listens for the name. */
  readonly dispatch = (condition: string, f: Firing): boolean => {
    const set = this.listeners.get(condition);
    for (const listener of set ?? []) listener(f);
    return (set?.size ?? 0) > 0;
  };

  listen(condition: string, listener: (f: Firing) => void): () => void {
    let set = this.listeners.get(condition);
    if (!set) this.listeners.set(condition, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
}

/** An external trigger: fires each time a webhook or an Alertmanager alert names its condition; a request is an edge by itself. */
export class ExternalDetector implements Detector {
  constructor(
    readonly scenarioId: string,
    readonly trigger: string,
    private readonly condition: string,
    private readonly conditions: ExternalConditions,
  ) {}

  async run(fire: (f: Firing) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const stop = this.conditions.listen(this.condition, (f) => fire({ ...f, trigger: this.trigger }));
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    stop();
  }
}
