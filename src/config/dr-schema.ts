import * as z from 'zod';
import { scheduleSchema } from './schedule-schema.js';

/**
 * The disaster recovery and business continuity sections of the config (CLI.md
 * "Disaster recovery and continuity: configuration", CONTINUITY.md). Strict objects
 * throughout, so a misspelt field fails with its path. Cross-references (plan ids a
 * scenario names, a step's dependsOn, cycles) are checked elsewhere, not here.
 */

// ---- durations ----

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const MINUTES = /^\d+(?:\.\d+)?$/;

/**
 * Milliseconds from a DR duration: a number (or a string of digits) is MINUTES, as in
 * the product brief's `rto: 30, rpo: 5`; a string takes units: '30s', '5m', '1h',
 * '1h30m', '500ms', '2d'. Undefined when the value is neither.
 */
export function parseDrDuration(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 60_000) : undefined;
  const text = value.trim();
  if (MINUTES.test(text)) return Math.round(Number(text) * 60_000);
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * (UNIT_MS[unit ?? ''] ?? 0);
  return Math.round(ms);
}

/**
 * A duration of the DR sections. Input: a number of MINUTES, or a string with units
 * ('30s', '5m', '1h'). Output: MILLISECONDS, always (rto: 30 → 1_800_000), so DR code
 * compares and schedules without converting; `--json` results that speak in seconds
 * divide by 1000.
 */
export const minutesOrDuration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDrDuration(value);
  if (ms === undefined) {
    ctx.issues.push({ code: 'custom', input: value, message: "a duration: minutes as a number, or a string such as '30s', '5m', '1h'" });
    return z.NEVER;
  }
  return ms;
});

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'letters, digits, _ . : - only');
const nonEmpty = z.string().min(1);
const positiveInt = z.number().int().positive();
const httpStatus = z.number().int().min(100).max(599);

// ---- monitoring: where trigger conditions read their values ----

const healthCheckCommon = {
  interval: minutesOrDuration.optional(),
  timeout: minutesOrDuration.optional(),
  /** Consecutive failures before the check counts as down. */
  failures: positiveInt.optional(),
};

export const healthCheckSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('http'), url: nonEmpty, method: z.enum(['GET', 'HEAD', 'POST']).optional(), expectStatus: httpStatus.optional(), ...healthCheckCommon }),
  z.strictObject({ type: z.literal('tcp'), target: z.string().regex(/^.+:\d+$/, 'host:port'), ...healthCheckCommon }),
  z.strictObject({ type: z.literal('command'), command: nonEmpty, ...healthCheckCommon }),
  z
    .strictObject({ type: z.literal('sql'), source: nonEmpty.optional(), url: nonEmpty.optional(), query: nonEmpty.default('SELECT 1'), ...healthCheckCommon })
    .refine((c) => (c.source === undefined) !== (c.url === undefined), { message: 'give either source (a source name) or url', path: ['source'] }),
]);

export const monitoringSchema = z.strictObject({
  /** Log triggers without their own `paths` read these globs. */
  logs: z.record(nonEmpty, z.array(nonEmpty).min(1)).optional(),
  /** A Prometheus text endpoint scraped by bkdr, or a Prometheus server queried with PromQL. */
  metrics: z.union([z.strictObject({ url: nonEmpty, interval: minutesOrDuration.optional() }), z.strictObject({ prometheus: nonEmpty, interval: minutesOrDuration.optional() })]).optional(),
  /** Names are usable in trigger conditions (`database_health == false`). */
  healthChecks: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a health check name is an identifier: letters, digits, _'), healthCheckSchema).optional(),
  /**
   * The HTTP listener of `dr watch` for external triggers: POST /hooks/alertmanager (an
   * Alertmanager webhook, v4) and POST /hooks/trigger ({ "condition": ... }). Every
   * request carries `Authorization: Bearer <token>`; without token(File) here, the
   * tokens of `serve` with role `operate` are accepted.
   */
  webhooks: z
    .strictObject({ port: z.number().int().min(0).max(65535), host: nonEmpty.optional(), tokenFile: nonEmpty.optional(), token: nonEmpty.optional() })
    .refine((w) => w.tokenFile === undefined || w.token === undefined, { message: 'give tokenFile or token, not both', path: ['tokenFile'] })
    .optional(),
});

// ---- scenarios ----

const severity = z.enum(['critical', 'high', 'medium', 'low']);

const TRIGGER_ALIASES = { health: 'health_check', alert: 'external' } as const;

const triggerCommon = { condition: nonEmpty, for: minutesOrDuration.optional() };

/** `health` and `alert`, the names of the first draft, are read as `health_check` and `external`. */
export const triggerSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('metric'), ...triggerCommon }),
    z.strictObject({ type: z.literal(['health_check', 'health']), ...triggerCommon }),
    /** condition: a regular expression matched against each new log line; fires at `count` matches (default 1) within `within`. */
    z.strictObject({ type: z.literal('log'), ...triggerCommon, paths: z.array(nonEmpty).min(1).optional(), count: positiveInt.optional(), within: minutesOrDuration.optional() }),
    /** condition: the name a webhook or an Alertmanager alert (alertname) carries. */
    z.strictObject({ type: z.literal(['external', 'alert']), ...triggerCommon }),
  ])
  .transform((t) => {
    const type = t.type in TRIGGER_ALIASES ? TRIGGER_ALIASES[t.type as keyof typeof TRIGGER_ALIASES] : t.type;
    return { ...t, type: type as 'metric' | 'health_check' | 'log' | 'external' };
  });

/** A plan id, or { planId, priority, dependsOn }; the output is always the object form. */
export const scenarioPlanRefSchema = z
  .union([id, z.strictObject({ planId: id, priority: positiveInt.optional(), dependsOn: z.array(id).optional() })])
  .transform((r) => (typeof r === 'string' ? { planId: r } : r));

const scenarioFields = {
  id,
  name: nonEmpty,
  description: z.string().optional(),
  severity,
  rto: minutesOrDuration,
  rpo: minutesOrDuration,
  affectedSystems: z.array(nonEmpty),
  /** Empty: the scenario starts only by hand (`dr trigger`). */
  triggers: z.array(triggerSchema),
  /** true: `dr watch` starts the scenario when a trigger fires; otherwise it records the detection. */
  automatic: z.boolean().optional(),
  /** After a detection starts (or is suppressed for) the scenario, how long further detections are only recorded. Default 5 minutes. */
  cooldown: minutesOrDuration.optional(),
  /** Where `automatic: false` detections and the execution's end are announced: a webhook URL or a command. */
  notify: z.strictObject({ webhook: nonEmpty.optional(), command: nonEmpty.optional() }).optional(),
  recoveryPlans: z.array(scenarioPlanRefSchema).min(1),
};

export const scenarioSchema = z.strictObject(scenarioFields);
/** In the record form the key is the id; an `id` field, if given, must be the same (checked elsewhere). */
const keyedScenarioSchema = z.strictObject({ ...scenarioFields, id: id.optional() });

// ---- recovery plans and their steps ----

/** The fields of each step type besides the common ones. */
const stepFields = {
  restore: {
    source: nonEmpty,
    /** 'latest' (default), a backup id, or a time as `restore --at` takes it. */
    at: nonEmpty.optional(),
    from: nonEmpty.optional(),
    target: nonEmpty.optional(),
    targetDatabase: nonEmpty.optional(),
    include: z.array(nonEmpty).optional(),
    verify: z.boolean().optional(),
    force: z.boolean().optional(),
  },
  command: { command: nonEmpty, cwd: nonEmpty.optional(), env: z.record(z.string(), z.string()).optional() },
  http: {
    url: nonEmpty,
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().optional(),
    expectStatus: z.union([httpStatus, z.array(httpStatus).min(1)]).optional(),
  },
  tcp: { target: z.string().regex(/^.+:\d+$/, 'host:port') },
  sql: {
    source: nonEmpty.optional(),
    url: nonEmpty.optional(),
    query: nonEmpty,
    /** The first column of the first row must equal this. */
    expect: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
  },
  wait: { duration: minutesOrDuration },
  approval: { approvers: z.array(nonEmpty).optional(), message: nonEmpty },
  notify: { webhook: nonEmpty.optional(), command: nonEmpty.optional(), message: nonEmpty },
  backup: { source: nonEmpty, destinations: z.array(nonEmpty).optional() },
  verify: { source: nonEmpty.optional(), destination: nonEmpty.optional(), readData: z.union([z.boolean(), z.number().min(0).max(100)]).optional() },
} as const;

type StepType = keyof typeof stepFields;

/** Rules beyond the fields' own, per type; a rule names the field it is about. */
function stepRules(type: StepType, step: Record<string, unknown>, ctx: z.RefinementCtx, partial: boolean): void {
  if (type === 'sql' && !partial && (step['source'] === undefined) === (step['url'] === undefined))
    ctx.addIssue({ code: 'custom', path: ['source'], message: 'give either source (a source name) or url' });
  if (type === 'notify' && !partial && step['webhook'] === undefined && step['command'] === undefined) ctx.addIssue({ code: 'custom', path: ['webhook'], message: 'give webhook or command' });
}

const onFailure = z.enum(['abort', 'continue', 'rollback']);
const retries = z.number().int().nonnegative();

/** A rollback action: a step of any type, without its own id, rollback or test. */
function rollbackStep<T extends StepType>(type: T) {
  return z
    .strictObject({ type: z.literal(type), id: id.optional(), name: z.string().optional(), timeout: minutesOrDuration.optional(), retries: retries.optional(), ...stepFields[type] })
    .superRefine((s, ctx) => stepRules(type, s, ctx, false));
}

const rollbackStepSchema = z.discriminatedUnion('type', [
  rollbackStep('restore'),
  rollbackStep('command'),
  rollbackStep('http'),
  rollbackStep('tcp'),
  rollbackStep('sql'),
  rollbackStep('wait'),
  rollbackStep('approval'),
  rollbackStep('notify'),
  rollbackStep('backup'),
  rollbackStep('verify'),
]);

function step<T extends StepType>(type: T) {
  return z
    .strictObject({
      type: z.literal(type),
      id,
      name: z.string().optional(),
      dependsOn: z.array(id).optional(),
      timeout: minutesOrDuration.optional(),
      retries: retries.optional(),
      onFailure: onFailure.default('abort'),
      /** Run, in reverse order of completion, when the execution rolls back. Output: always a list. */
      rollback: z
        .union([rollbackStepSchema, z.array(rollbackStepSchema).min(1)])
        .transform((r) => (Array.isArray(r) ? r : [r]))
        .optional(),
      /** What a DR test does instead: skip the step, or run it with these fields replaced. */
      test: z
        .union([
          z.literal('skip'),
          z
            .strictObject({ name: z.string().optional(), timeout: minutesOrDuration.optional(), retries: retries.optional(), ...stepFields[type] })
            .partial()
            .superRefine((s, ctx) => stepRules(type, s, ctx, true)),
        ])
        .optional(),
      /** The step's share of the execution's progress. */
      weight: z.number().positive().optional(),
      ...stepFields[type],
    })
    .superRefine((s, ctx) => stepRules(type, s, ctx, false));
}

export const stepSchema = z.discriminatedUnion('type', [
  step('restore'),
  step('command'),
  step('http'),
  step('tcp'),
  step('sql'),
  step('wait'),
  step('approval'),
  step('notify'),
  step('backup'),
  step('verify'),
]);

const planFields = {
  name: z.string().optional(),
  description: z.string().optional(),
  /** Who answers for the plan (ISO 22301 8.4.4). */
  owner: z.string().optional(),
  steps: z.array(stepSchema).min(1),
};

export const recoveryPlanSchema = z.strictObject(planFields);

// ---- DR tests ----

export const drTestSchema = z.strictObject({
  type: z.enum(['component', 'integration', 'e2e', 'chaos']),
  scenarios: z.array(id).min(1),
  schedule: scheduleSchema.optional(),
  /** chaos: the command that injects the failure before the scenario runs. */
  inject: nonEmpty.optional(),
  scope: z.array(nonEmpty).optional(),
  parallel: z.boolean().optional(),
});

// ---- business continuity: BIA, risks, KPIs ----

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}/, "a date such as '2027-06-30'");

export const systemSchema = z.strictObject({
  name: nonEmpty,
  description: z.string().optional(),
  criticality: severity.optional(),
  owner: z.string().optional(),
  rto: minutesOrDuration.optional(),
  rpo: minutesOrDuration.optional(),
  /** Maximum tolerable period of disruption. */
  mtpd: minutesOrDuration.optional(),
  dependencies: z.array(nonEmpty).optional(),
  /** Names of `sources` that back the system up. */
  sources: z.array(nonEmpty).optional(),
  scenarios: z.array(id).optional(),
  personalData: z.boolean().optional(),
  tags: z.array(nonEmpty).optional(),
  reviewedAt: isoDate.optional(),
});

const score = z.number().int().min(1).max(5);

export const riskSchema = z.strictObject({
  id: nonEmpty,
  title: nonEmpty,
  description: z.string().optional(),
  category: z.string().optional(),
  /** Optional: an unscored risk loads, and fails ISO 22301 8.2.3 ("every risk scored"). */
  likelihood: score.optional(),
  impact: score.optional(),
  owner: z.string().optional(),
  treatment: z.enum(['mitigate', 'transfer', 'avoid', 'accept']).optional(),
  mitigations: z.array(nonEmpty).optional(),
  residualLikelihood: score.optional(),
  residualImpact: score.optional(),
  systems: z.array(nonEmpty).optional(),
  reviewBy: isoDate.optional(),
  status: z.enum(['open', 'closed']).optional(),
});

const threshold = z.strictObject({ warning: z.number().optional(), critical: z.number().optional() });

/** CONTINUITY.md "KPIs": the brief's names and units. */
export const KPI_NAMES = [
  'system_availability',
  'mean_time_to_recovery',
  'recovery_time_achieved',
  'recovery_point_achieved',
  'backup_success_rate',
  'dr_test_success_rate',
  'compliance_score',
  'hours_since_last_backup',
  'verify_coverage',
] as const;

export const kpiThresholdsSchema = z.strictObject(Object.fromEntries(KPI_NAMES.map((k) => [k, threshold.optional()])) as Record<(typeof KPI_NAMES)[number], z.ZodOptional<typeof threshold>>);

// ---- serve ----

export const serveSchema = z.strictObject({
  port: z.number().int().min(1).max(65535).optional(),
  host: nonEmpty.optional(),
  /** TLS: a PEM certificate (chain) and its key; `--cert`/`--key` override. */
  cert: nonEmpty.optional(),
  key: nonEmpty.optional(),
  /** Browser origins allowed to call the API (CORS); none by default. */
  corsOrigins: z.array(nonEmpty).optional(),
  tokens: z
    .array(
      z
        .strictObject({ name: nonEmpty, role: z.enum(['read', 'operate']), tokenFile: nonEmpty.optional(), token: nonEmpty.optional() })
        .refine((t) => (t.tokenFile === undefined) !== (t.token === undefined), { message: 'give either tokenFile or token', path: ['tokenFile'] }),
    )
    .min(1),
});

/** The DR/BC keys of the config object, spread into configSchema. */
export const drSections = {
  monitoring: monitoringSchema.optional(),
  scenarios: z.union([z.array(scenarioSchema), z.record(id, keyedScenarioSchema)]).optional(),
  recoveryPlans: z.union([z.record(id, recoveryPlanSchema), z.array(z.strictObject({ id, ...planFields }))]).optional(),
  drTests: z.record(nonEmpty, drTestSchema).optional(),
  systems: z.array(systemSchema).optional(),
  risks: z.array(riskSchema).optional(),
  kpiThresholds: kpiThresholdsSchema.optional(),
  complianceFrameworks: z.array(z.enum(['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'])).optional(),
  /** Per framework, windows (days) and percentages that replace a control's defaults: { SOX: { successPercent: 97 } }. */
  complianceSettings: z.partialRecord(z.enum(['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR']), z.record(z.string(), z.number())).optional(),
  serve: serveSchema.optional(),
};

export type DrTrigger = z.output<typeof triggerSchema>;
export type DrStep = z.output<typeof stepSchema>;
export type DrScenario = z.output<typeof scenarioSchema>;
export type DrRecoveryPlan = z.output<typeof recoveryPlanSchema>;

type DrSectionsOutput = { [K in keyof typeof drSections]?: z.output<(typeof drSections)[K]> };

/** The scenarios as a list whichever form the config used; in the record form the key is the id. */
export function listScenarios(config: Pick<DrSectionsOutput, 'scenarios'>): DrScenario[] {
  const { scenarios } = config;
  if (!scenarios) return [];
  if (Array.isArray(scenarios)) return scenarios;
  return Object.entries(scenarios).map(([key, s]) => ({ ...s, id: s.id ?? key }));
}

/** The recovery plans by id whichever form the config used, in the config's order. */
export function recoveryPlansById(config: Pick<DrSectionsOutput, 'recoveryPlans'>): Map<string, DrRecoveryPlan> {
  const { recoveryPlans } = config;
  if (!recoveryPlans) return new Map();
  if (Array.isArray(recoveryPlans)) return new Map(recoveryPlans.map(({ id: planId, ...plan }) => [planId, plan]));
  return new Map(Object.entries(recoveryPlans));
}
