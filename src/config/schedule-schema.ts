import * as z from 'zod';

/** Schedules, shared by the backup sections (schema.ts) and the DR tests (dr-schema.ts). */

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
