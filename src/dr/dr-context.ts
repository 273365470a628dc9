import type { BackupManager } from '../backup/backup-manager.js';
import type { Catalog } from '../catalog/catalog.js';
import { type DrRecoveryPlan, type DrScenario, listScenarios, recoveryPlansById } from '../config/dr-schema.js';
import type { BkdrConfig } from '../config/schema.js';
import { suggestKey } from '../config/validation-error.js';
import { UsageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StepExecutors } from './execution-runner.js';

/** What the DR use cases share: one per orchestrator, like the backup service's context. */
export interface DrContext {
  readonly config: BkdrConfig;
  readonly configDir: string;
  readonly catalog: Catalog;
  readonly backup: BackupManager;
  readonly logger: Logger;
  readonly executors: StepExecutors;
  /** Scenarios registered through the library besides the config's (`registerScenario`). */
  readonly registered: Map<string, DrScenario>;
  /** Recovery plans registered through the library besides the config's. */
  readonly registeredPlans: Map<string, DrRecoveryPlan>;
  /** A chaos test: executions the detectors start run as tests (overrides, scratch targets) and are recorded as such. */
  readonly testMode?: { triggeredBy: string; type: string };
  /** How often a waiting approval step looks for a decision; tests shorten it. */
  readonly approvalPollMs?: number;
}

export function scenarios(ctx: Pick<DrContext, 'config' | 'registered'>): DrScenario[] {
  const fromConfig = listScenarios(ctx.config).filter((s) => !ctx.registered.has(s.id));
  return [...fromConfig, ...ctx.registered.values()];
}

/** The config's recovery plans with the registered ones over them, by id. */
export function recoveryPlans(ctx: Pick<DrContext, 'config' | 'registeredPlans'>): Record<string, DrRecoveryPlan> {
  return Object.fromEntries([...recoveryPlansById(ctx.config), ...ctx.registeredPlans]);
}

export function scenarioById(ctx: Pick<DrContext, 'config' | 'registered'>, id: string): DrScenario {
  const all = scenarios(ctx);
  const found = all.find((s) => s.id === id);
  if (found) return found;
  const suggestion = suggestKey(
    id,
    all.map((s) => s.id),
  );
  const known = all.length ? `; scenarios: ${all.map((s) => s.id).join(', ')}` : '; the config has no scenarios';
  throw new UsageError(`no scenario ${id}${suggestion ? ` (did you mean '${suggestion}'?)` : known}`);
}
