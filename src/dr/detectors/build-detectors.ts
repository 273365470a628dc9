import { resolve } from 'node:path';
import type { HealthSamplesTable } from '../../catalog/health-samples-table.js';
import { listScenarios, type DrTrigger } from '../../config/dr-schema.js';
import type { BkdrConfig } from '../../config/schema.js';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { describeTrigger, narrowTrigger, type Detector } from './detector.js';
import { ExternalConditions, ExternalDetector } from './external-detector.js';
import { resolveWebhookTokens } from './external-listener.js';
import { handleExternalRequest, type ExternalRequest, type ExternalResponse } from './external-trigger.js';
import { parseHealthCondition } from './health-condition.js';
import { HealthDetector } from './health-detector.js';
import type { RunSql } from './health-probe.js';
import { HealthSampler } from './health-sampler.js';
import { LogDetector } from './log-detector.js';
import { MetricDetector } from './metric-detector.js';

export type DetectorsConfig = Pick<BkdrConfig, 'monitoring' | 'scenarios' | 'serve'>;

export interface BuiltDetectors {
  detectors: Detector[];
  /** Present when a scenario has an external trigger: what the webhook listener hands each request to. */
  externalHandler?: (req: ExternalRequest) => ExternalResponse;
  /** Stops the shared health samplers; the detectors' own runs end with their signals. */
  close(): Promise<void>;
}

/**
 * One detector per trigger of every scenario. Health checks named by several triggers
 * share one sampler. A trigger that cannot work as configured (a log trigger without
 * paths, a health check that does not exist, a metric condition that does not parse) is
 * a ConfigError naming its path, raised here rather than silently never firing.
 */
export function buildDetectors(opts: { config: DetectorsConfig; configDir: string; healthSamples: HealthSamplesTable; log: Logger; runSql?: RunSql }): BuiltDetectors {
  const { config, configDir, log } = opts;
  const monitoring = config.monitoring;
  const samplers = new Map<string, HealthSampler>();
  const external = new ExternalConditions();
  let hasExternal = false;
  const detectors: Detector[] = [];

  const detectorFor = (scenarioId: string, trigger: DrTrigger, where: string): Detector => {
    const t = narrowTrigger(trigger);
    switch (t.type) {
      case 'log': {
        const globs = t.paths ?? Object.values(monitoring?.logs ?? {}).flat();
        if (globs.length === 0) throw new ConfigError(`${where}.paths`, 'a log trigger needs paths, or globs in monitoring.logs');
        return new LogDetector(scenarioId, describeTrigger(trigger, globs), t, globs, configDir, log, undefined, where);
      }
      case 'metric': {
        const metrics = monitoring?.metrics;
        if (!metrics) throw new ConfigError(`${where}`, 'a metric trigger needs monitoring.metrics (url or prometheus)');
        return new MetricDetector(scenarioId, describeTrigger(trigger), t, metrics, log, where);
      }
      case 'health_check': {
        let condition;
        try {
          condition = parseHealthCondition(t.condition);
        } catch (err) {
          throw new ConfigError(`${where}.condition`, (err as Error).message, { cause: err });
        }
        const check = monitoring?.healthChecks?.[condition.check];
        if (!check) throw new ConfigError(`${where}.condition`, `no health check ${condition.check} in monitoring.healthChecks`);
        let sampler = samplers.get(condition.check);
        if (!sampler) samplers.set(condition.check, (sampler = new HealthSampler(condition.check, check, opts.healthSamples, log, opts.runSql)));
        return new HealthDetector(scenarioId, describeTrigger(trigger), condition, sampler);
      }
      case 'external':
        hasExternal = true;
        return new ExternalDetector(scenarioId, describeTrigger(trigger), t.condition.trim(), external);
    }
  };

  listScenarios(config).forEach((scenario, s) => {
    scenario.triggers.forEach((trigger, i) => detectors.push(detectorFor(scenario.id, trigger, `scenarios[${s}].triggers[${i}]`)));
  });

  const tokens = hasExternal ? resolveWebhookTokens(config, resolve(configDir)) : undefined;
  return {
    detectors,
    ...(tokens ? { externalHandler: (req: ExternalRequest) => handleExternalRequest(req, { tokens, onFiring: external.dispatch }) } : {}),
    close: async () => {
      await Promise.all([...samplers.values()].map((s) => s.stop()));
    },
  };
}
