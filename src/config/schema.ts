// A namespace import lets the CLI bundle leave out what the schema does not use (zod's 50
// locales were 560 KB of the bundle, 40 ms of every command's start).
import * as z from 'zod';
import { drSections } from './dr-schema.js';
import { scheduleSchema } from './schedule-schema.js';

/**
 * The configuration of CLI.md "Configuration shape". Strict everywhere: an unknown key
 * is an error naming its path. The DR/BC sections (monitoring, scenarios, recoveryPlans,
 * drTests, systems, risks, kpiThresholds, complianceFrameworks, serve) are in dr-schema.ts.
 */

const durationOrMs = z.union([z.number().int().positive(), z.string().regex(/^\d+(ms|s|m|h|d)?$/, 'a duration such as 300s, 5m, 1h or milliseconds')]);

export { cronScheduleSchema, intervalScheduleSchema, scheduleSchema } from './schedule-schema.js';

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

export const compressionSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    algorithm: z.enum(['lz4', 'gzip', 'brotli']).default('lz4'),
    level: z.number().int().min(0).max(11).optional(),
  })
  // 10 and 11 are brotli's alone: zlib refuses them, and every gzip blob of the run would fail.
  .refine((c) => c.algorithm !== 'gzip' || c.level === undefined || c.level <= 9, { message: 'gzip takes levels 0 to 9', path: ['level'] });

const sourceOverrides = {
  schedule: scheduleSchema.optional(),
  /** The continuous strategy's recovery point objective for this source. */
  rpo: durationOrMs.optional(),
  strategy: strategySchema.optional(),
  retention: retentionSchema.optional(),
  tags: z.array(z.string()).optional(),
  /** The scheduler runs a waiting job of a higher priority first, and at that CPU and I/O priority (default normal). */
  priority: z.enum(['low', 'normal', 'high']).optional(),
};

export const sourceSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('files'),
    paths: z.array(z.string().min(1)).min(1),
    exclude: z.array(z.string()).optional(),
    oneFileSystem: z.boolean().default(false),
    /** Record each entry's access time; by default its mtime stands in for it (backup/files-archiver.ts, #recorded, says why). */
    withAtime: z.boolean().default(false),
    ...sourceOverrides,
  }),
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
  ...drSections,
  notifications: z.array(z.looseObject({ type: z.string() })).optional(),
});

export type BkdrConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;
type ParsedDestination = ParsedConfig['destinations'][number];
/** After validation every destination has a name (defaulted from its type) and a priority. */
export type BkdrDestination = ParsedDestination & { name: string; priority: number };
export type BkdrConfig = Omit<ParsedConfig, 'destinations'> & { destinations: BkdrDestination[] };
export type BkdrSource = ParsedConfig['sources'][string];
