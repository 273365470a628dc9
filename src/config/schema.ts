// A namespace import lets the CLI bundle leave out what the schema does not use (zod's 50
// locales were 560 KB of the bundle, 40 ms of every command's start).
import * as z from 'zod';

/**
 * The configuration of CLI.md "Configuration shape". Strict everywhere (an unknown
 * key is an error) except inside the DR/BC sections, whose step and trigger details
 * later issues define; those keep unknown fields so configs written for them load.
 */

const durationOrMs = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m|h|d)?$/, 'a duration such as 300s, 5m, 1h or milliseconds')]);

export const cronScheduleSchema = z.strictObject({
  type: z.literal('cron'),
  expression: z.string().refine((e) => [5, 6].includes(e.trim().split(/\s+/).length), 'a cron expression has 5 or 6 fields'),
  timezone: z.string().optional(),
});
export const intervalScheduleSchema = z.strictObject({
  type: z.literal('interval'),
  expression: z.string().regex(/^[1-9]\d*$/, 'an interval in milliseconds, such as "3600000"'),
});
export const scheduleSchema = z.discriminatedUnion('type', [cronScheduleSchema, intervalScheduleSchema]);

export const retentionSchema = z.strictObject({
  last: z.number().int().nonnegative().optional(),
  hourly: z.number().int().nonnegative().optional(),
  daily: z.number().int().nonnegative().optional(),
  weekly: z.number().int().nonnegative().optional(),
  monthly: z.number().int().nonnegative().optional(),
  yearly: z.number().int().nonnegative().optional(),
  within: z
    .string()
    .regex(/^(\d+[ymwdh])+$/, "a duration such as '1y6m' or '30d'")
    .optional(),
});

export const strategySchema = z.enum(['full', 'incremental', 'differential', 'continuous']);

export const compressionSchema = z.strictObject({
  enabled: z.boolean().default(true),
  algorithm: z.enum(['lz4', 'gzip', 'brotli']).default('lz4'),
  level: z.number().int().min(0).max(11).optional(),
});

const sourceOverrides = {
  schedule: scheduleSchema.optional(),
  /** The continuous strategy's recovery point objective for this source. */
  rpo: durationOrMs.optional(),
  strategy: strategySchema.optional(),
  retention: retentionSchema.optional(),
  tags: z.array(z.string()).optional(),
};

export const sourceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('files'), paths: z.array(z.string().min(1)).min(1), exclude: z.array(z.string()).optional(), oneFileSystem: z.boolean().default(false), ...sourceOverrides }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().optional(),
    database: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    mode: z.enum(['logical', 'physical']).default('logical'),
    ...sourceOverrides,
  }),
  z.strictObject({
    type: z.literal('mysql'),
    url: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().optional(),
    socket: z.string().optional(),
    database: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    ...sourceOverrides,
  }),
  z.strictObject({ type: z.literal('sqlite'), path: z.string().min(1), ...sourceOverrides }),
  z.strictObject({ type: z.literal('command'), command: z.string().min(1), restoreCommand: z.string().optional(), filename: z.string().optional(), ...sourceOverrides }),
]);

const destinationCommon = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only')
    .optional(),
  priority: z.number().int().positive().optional(),
  encryption: z.boolean().default(true),
  offsite: z.boolean().optional(),
  compression: compressionSchema.optional(),
};

export const destinationSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local'), ...destinationCommon, config: z.strictObject({ path: z.string().min(1) }) }),
  z.strictObject({
    type: z.literal('s3'),
    ...destinationCommon,
    config: z.strictObject({
      bucket: z.string().min(1),
      region: z.string().optional(),
      prefix: z.string().optional(),
      endpoint: z.string().optional(),
      forcePathStyle: z.boolean().optional(),
      accessKeyId: z.string().optional(),
      secretAccessKey: z.string().optional(),
      sessionToken: z.string().optional(),
      storageClass: z.string().optional(),
      serverSideEncryption: z.string().optional(),
      sseKmsKeyId: z.string().optional(),
      objectLock: z.strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().positive() }).optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('gcs'),
    ...destinationCommon,
    config: z.strictObject({
      bucket: z.string().min(1),
      prefix: z.string().optional(),
      projectId: z.string().optional(),
      keyFilename: z.string().optional(),
      credentials: z.record(z.string(), z.unknown()).optional(),
      hmacAccessId: z.string().optional(),
      hmacSecret: z.string().optional(),
      endpoint: z.string().optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('azure'),
    ...destinationCommon,
    config: z.strictObject({
      container: z.string().min(1),
      prefix: z.string().optional(),
      connectionString: z.string().optional(),
      accountName: z.string().optional(),
      accountKey: z.string().optional(),
      sasToken: z.string().optional(),
      endpoint: z.string().optional(),
      accessTier: z.enum(['Hot', 'Cool', 'Cold', 'Archive']).optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('ftp'),
    ...destinationCommon,
    config: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().positive().optional(),
      user: z.string().optional(),
      password: z.string().optional(),
      secure: z.union([z.boolean(), z.literal('implicit')]).optional(),
      /** PEM file of the CA that signed a private server's certificate; public CAs need none. */
      caFile: z.string().optional(),
      path: z.string().optional(),
      passive: z.boolean().default(true),
    }),
  }),
  z.strictObject({
    type: z.literal('sftp'),
    ...destinationCommon,
    config: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().positive().optional(),
      username: z.string().min(1),
      password: z.string().optional(),
      privateKey: z.string().optional(),
      privateKeyPath: z.string().optional(),
      passphrase: z.string().optional(),
      knownHosts: z.string().optional(),
      path: z.string().optional(),
    }),
  }),
]);

// ---- disaster recovery and business continuity (DESIGN.md); details come with later issues ----

const stepSchema = z.looseObject({
  id: z.string().min(1),
  type: z.enum(['restore', 'command', 'http', 'wait', 'approval', 'notify']),
  name: z.string().optional(),
  dependsOn: z.array(z.string()).optional(),
  timeout: durationOrMs.optional(),
  retries: z.number().int().nonnegative().optional(),
  rollback: z.array(z.looseObject({ type: z.string() })).optional(),
  weight: z.number().positive().optional(),
});

const triggerSchema = z.looseObject({
  type: z.enum(['log', 'metric', 'health', 'alert', 'manual']),
});

const planSchema = z.looseObject({ name: z.string().optional(), steps: z.array(stepSchema).min(1) });

const scenarioSchema = z.looseObject({
  id: z.string().min(1).optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  triggers: z.array(triggerSchema).optional(),
  plan: z.union([z.string(), planSchema]).optional(),
  recoveryPlan: z.union([z.string(), planSchema]).optional(),
  rto: durationOrMs.optional(),
  rpo: durationOrMs.optional(),
  priority: z.union([z.number(), z.string()]).optional(),
});

const systemSchema = z.looseObject({
  name: z.string().min(1),
  criticality: z.enum(['critical', 'high', 'medium', 'low']).optional(),
  rto: durationOrMs.optional(),
  rpo: durationOrMs.optional(),
  mtpd: durationOrMs.optional(),
  dependencies: z.array(z.string()).optional(),
});

const riskSchema = z.looseObject({
  id: z.string().optional(),
  title: z.string().min(1),
  likelihood: z.number().min(1).max(5).optional(),
  impact: z.number().min(1).max(5).optional(),
  owner: z.string().optional(),
  mitigations: z.array(z.string()).optional(),
});

export const configSchema = z.strictObject({
  sources: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'source names are letters, digits, _ . -'), sourceSchema).default({}),
  strategy: strategySchema.default('incremental'),
  rpo: durationOrMs.optional(),
  schedule: scheduleSchema.optional(),
  retention: retentionSchema.optional(),
  /** When `bkdr schedule run` (or the units `schedule install` prints) applies retention with `backup prune`. */
  prune: z.strictObject({ schedule: scheduleSchema }).optional(),
  destinations: z.array(destinationSchema).min(1, 'at least one destination is needed'),
  compression: compressionSchema.default({ enabled: true, algorithm: 'lz4' }),
  verification: z
    .strictObject({ enabled: z.boolean().default(true), checksumAlgorithm: z.enum(['sha256', 'sha512', 'blake2b512']).default('sha256'), testRestore: z.boolean().default(false) })
    .default({ enabled: true, checksumAlgorithm: 'sha256', testRestore: false }),
  encryption: z.strictObject({ passwordFile: z.string().optional(), passwordCommand: z.string().optional() }).optional(),
  catalog: z.strictObject({ path: z.string().optional() }).optional(),
  scenarios: z.union([z.array(scenarioSchema), z.record(z.string(), scenarioSchema)]).optional(),
  recoveryPlans: z.union([z.array(planSchema.extend({ id: z.string() })), z.record(z.string(), planSchema)]).optional(),
  systems: z.array(systemSchema).optional(),
  risks: z.array(riskSchema).optional(),
  kpiThresholds: z.record(z.string(), z.looseObject({ warning: z.number().optional(), critical: z.number().optional() })).optional(),
  complianceFrameworks: z.array(z.enum(['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'])).optional(),
  notifications: z.array(z.looseObject({ type: z.string() })).optional(),
});

export type BkdrConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;
type ParsedDestination = ParsedConfig['destinations'][number];
/** After validation every destination has a name (defaulted from its type) and a priority. */
export type BkdrDestination = ParsedDestination & { name: string; priority: number };
export type BkdrConfig = Omit<ParsedConfig, 'destinations'> & { destinations: BkdrDestination[] };
export type BkdrSource = ParsedConfig['sources'][string];
