import { createRequire } from 'node:module';
import type { Cron } from 'croner';
import type { BkdrConfig } from '../config/schema.js';
import { formatDuration } from '../core/duration.js';
import { ConfigError } from '../core/errors.js';

/**
 * Loaded when the first cron schedule is read: this module is imported at every start
 * (the schedule command is registered with the others), and importing croner takes 7-11 ms.
 */
let CronClass: typeof Cron | undefined;
const requireLazily = createRequire(import.meta.url);

export type Schedule = NonNullable<BkdrConfig['schedule']>;
export type CronSchedule = Extract<Schedule, { type: 'cron' }>;
export type Strategy = BkdrConfig['strategy'];

/**
 * One scheduled job. Sources on the continuous strategy get `kind: 'watch'`: a file
 * watcher serves them, not a timer, so schedulers may leave them out. The config's
 * `prune.schedule` gives one `prune` job over every destination (`source` is 'all').
 */
export interface ScheduledJob {
  id: string;
  kind: 'backup' | 'watch' | 'prune' | 'dr-test';
  /** The source; for a prune 'all'; for a DR test the `drTests` suite it runs. */
  source: string;
  schedule: Schedule;
  strategy: Strategy;
  /** A source's `priority` (normal for prunes and DR tests): the order of waiting jobs, and the CPU and I/O priority of the run. */
  priority: 'low' | 'normal' | 'high';
  /** Where the schedule comes from in the config (`sources.files.schedule` or `schedule`), for messages. */
  scheduleFrom: string;
}

/**
 * The scheduled jobs of a config, in the config's source order: a source's own
 * `schedule` wins over the top-level one; a source with neither has no job. Every
 * schedule is checked here, so a bad expression fails before anything runs.
 */
export function planSchedule(config: Pick<BkdrConfig, 'sources' | 'schedule' | 'strategy' | 'prune'> & Partial<Pick<BkdrConfig, 'drTests'>>): ScheduledJob[] {
  // The top-level schedule is checked even when every source overrides it: it is still config.
  if (config.schedule) checkSchedule(config.schedule, 'schedule');
  const jobs: ScheduledJob[] = [];
  for (const [source, settings] of Object.entries(config.sources ?? {})) {
    const own = settings.schedule;
    const schedule = own ?? config.schedule;
    if (!schedule) continue;
    const scheduleFrom = own ? `sources.${source}.schedule` : 'schedule';
    if (own) checkSchedule(own, scheduleFrom);
    const strategy = settings.strategy ?? config.strategy ?? 'incremental';
    const kind = strategy === 'continuous' ? 'watch' : 'backup';
    jobs.push({ id: `${kind}:${source}`, kind, source, schedule, strategy, priority: settings.priority ?? 'normal', scheduleFrom });
  }
  if (config.prune) {
    checkSchedule(config.prune.schedule, 'prune.schedule');
    jobs.push({ id: 'prune', kind: 'prune', source: 'all', schedule: config.prune.schedule, strategy: config.strategy ?? 'incremental', priority: 'normal', scheduleFrom: 'prune.schedule' });
  }
  for (const [suite, test] of Object.entries(config.drTests ?? {})) {
    if (!test.schedule) continue;
    const scheduleFrom = `drTests.${suite}.schedule`;
    checkSchedule(test.schedule, scheduleFrom);
    jobs.push({ id: `dr-test:${suite}`, kind: 'dr-test', source: suite, schedule: test.schedule, strategy: config.strategy ?? 'incremental', priority: 'normal', scheduleFrom });
  }
  return jobs;
}

/**
 * The next `count` run times strictly after `from`. Interval schedules count from
 * `from` (a scheduler counts from its own start); cron schedules follow croner,
 * in the schedule's timezone (the local one without).
 */
export function nextRuns(schedule: Schedule, from: Date, count: number, path = 'schedule'): Date[] {
  if (schedule.type === 'interval') {
    const every = intervalMs(schedule);
    return Array.from({ length: count }, (_, k) => new Date(from.getTime() + (k + 1) * every));
  }
  return cronFor(schedule, path).nextRuns(count, from);
}

export function intervalMs(schedule: Extract<Schedule, { type: 'interval' }>): number {
  return Number(schedule.expression);
}

/** A schedule for people and unit-file comments: `0 2 * * * (Europe/Paris)`, `every 2.0s`. */
export function describeSchedule(schedule: Schedule): string {
  return schedule.type === 'cron' ? `${schedule.expression}${schedule.timezone !== undefined ? ` (${schedule.timezone})` : ''}` : `every ${formatDuration(intervalMs(schedule))}`;
}

function checkSchedule(schedule: Schedule, path: string): void {
  if (schedule.type === 'interval') return; // the config schema already holds it to a positive integer
  if (nextRuns(schedule, new Date(), 1, path).length === 0) {
    throw new ConfigError(`${path}.expression`, `'${schedule.expression}' never matches a date`);
  }
}

function cronFor(schedule: CronSchedule, path: string): Cron {
  if (schedule.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: schedule.timezone });
    } catch (err) {
      throw new ConfigError(`${path}.timezone`, `'${schedule.timezone}' is not a known IANA time zone (such as Europe/Paris or UTC)`, { cause: err });
    }
  }
  // Outside the try: a broken install is not a bad expression.
  CronClass ??= (requireLazily('croner') as { Cron: typeof Cron }).Cron;
  try {
    // Five or six fields only: the config schema promises that, and crontab and systemd need it.
    return new CronClass(schedule.expression, { ...(schedule.timezone !== undefined ? { timezone: schedule.timezone } : {}), paused: true, mode: '5-or-6-parts' });
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^Cron\w*: /, '') : String(err);
    throw new ConfigError(`${path}.expression`, `'${schedule.expression}' is not a valid cron expression (${detail})`, { cause: err });
  }
}

// ---- translation for crontab and systemd (`bkdr schedule install`) ----

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[];
}

const SECOND: FieldSpec = { min: 0, max: 59 };
const MINUTE: FieldSpec = { min: 0, max: 59 };
const HOUR: FieldSpec = { min: 0, max: 23 };
const DAY: FieldSpec = { min: 1, max: 31 };
const MONTH: FieldSpec = { min: 1, max: 12, names: ['', 'JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] };
const WEEKDAY: FieldSpec = { min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] };
const SYSTEMD_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** One comma-separated item of a cron field: `*`, `5`, `1-5`, `*\/15`, `1-20/3`, names allowed where cron allows them. */
interface FieldItem {
  from: number;
  to: number;
  step: number;
  star: boolean;
}

/** Undefined when the field uses syntax outside classic cron (croner's L, W, #, ?, + extensions). */
function parseField(text: string, spec: FieldSpec): FieldItem[] | undefined {
  const items: FieldItem[] = [];
  for (const part of text.split(',')) {
    const m = /^(?:(\*)|([0-9]+|[A-Za-z]{3})(?:-([0-9]+|[A-Za-z]{3}))?)(?:\/([0-9]+))?$/.exec(part);
    if (!m) return undefined;
    const value = (v: string) => (/^\d+$/.test(v) ? Number(v) : (spec.names?.indexOf(v.toUpperCase()) ?? -1));
    const step = m[4] === undefined ? 1 : Number(m[4]);
    if (m[1]) {
      items.push({ from: spec.min, to: spec.max, step, star: true });
      continue;
    }
    const from = value(m[2] ?? '');
    // `5/15` (a start with a step but no range) is not classic cron.
    const to = m[3] !== undefined ? value(m[3]) : m[4] !== undefined ? -1 : from;
    if (from < spec.min || to < from || to > spec.max || step < 1) return undefined;
    items.push({ from, to, step, star: false });
  }
  return items;
}

function expand(items: FieldItem[]): number[] {
  const values = new Set<number>();
  for (const item of items) for (let v = item.from; v <= item.to; v += item.step) values.add(v);
  return [...values].sort((a, b) => a - b);
}

/** Splits a 5- or 6-field expression into seconds (defaulting to 0) and the classic five fields. */
function splitCron(expression: string): { seconds: string; five: string[] } | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length === 5) return { seconds: '0', five: fields };
  if (fields.length === 6) return { seconds: fields[0] ?? '', five: fields.slice(1) };
  return undefined;
}

export type CrontabTranslation = { ok: true; expression: string } | { ok: false; reason: string };

/**
 * The five-field crontab form of a cron schedule. A six-field expression fits only
 * when its seconds field is 0; croner's extensions (L, W, #, ?) do not fit at all.
 */
export function toCrontabExpression(schedule: CronSchedule): CrontabTranslation {
  const split = splitCron(schedule.expression);
  if (!split) return { ok: false, reason: `'${schedule.expression}' does not have 5 or 6 fields` };
  if (!/^0+$/.test(split.seconds)) return { ok: false, reason: `'${schedule.expression}' has a seconds field, which crontab cannot express` };
  const specs = [MINUTE, HOUR, DAY, MONTH, WEEKDAY];
  if (split.five.some((f, i) => parseField(f, specs[i] ?? MINUTE) === undefined)) {
    return { ok: false, reason: `'${schedule.expression}' uses croner syntax (L, W, #, ?) that cron does not understand` };
  }
  return { ok: true, expression: split.five.join(' ') };
}

export type SystemdTranslation = { ok: true; onCalendar: string[]; fixedHours: boolean; seconds: boolean } | { ok: false; reason: string };

/**
 * systemd `OnCalendar=` values that fire at exactly the times cron would. cron ORs
 * a restricted day-of-month with a restricted day-of-week while systemd ANDs them,
 * so that case becomes two OnCalendar lines. `fixedHours` says the job runs at fixed
 * hours (DST gaps matter); `seconds` that it fires at other seconds than :00.
 */
export function toSystemdCalendar(schedule: CronSchedule): SystemdTranslation {
  const split = splitCron(schedule.expression);
  const unmapped = { ok: false as const, reason: `'${schedule.expression}' does not map exactly onto systemd OnCalendar` };
  if (!split) return unmapped;
  const [minuteText, hourText, dayText, monthText, weekdayText] = split.five as [string, string, string, string, string];
  const second = parseField(split.seconds, SECOND);
  const minute = parseField(minuteText, MINUTE);
  const hour = parseField(hourText, HOUR);
  const day = parseField(dayText, DAY);
  const month = parseField(monthText, MONTH);
  const weekday = parseField(weekdayText, WEEKDAY);
  if (!second || !minute || !hour || !day || !month || !weekday) return unmapped;
  const dayStar = dayText === '*';
  const weekdayStar = weekdayText === '*';
  // cron counts `*/2` in a day field as a star (AND), croner does not (OR): no single meaning to map.
  if ((!dayStar && dayText.startsWith('*') && !weekdayStar) || (!weekdayStar && weekdayText.startsWith('*') && !dayStar)) return unmapped;

  const time = `${systemdField(hour, HOUR)}:${systemdField(minute, MINUTE)}:${systemdField(second, SECOND)}`;
  const zone = schedule.timezone !== undefined ? ` ${schedule.timezone}` : '';
  const monthPart = systemdField(month, MONTH);
  const weekdays = [...new Set(expand(weekday).map((d) => d % 7))].sort((a, b) => ((a + 6) % 7) - ((b + 6) % 7));
  const weekdayPart = weekdays.map((d) => SYSTEMD_WEEKDAYS[d]).join(',');
  const onCalendar =
    dayStar && weekdayStar
      ? [`*-${monthPart}-* ${time}${zone}`]
      : dayStar
        ? [`${weekdayPart} *-${monthPart}-* ${time}${zone}`]
        : weekdayStar
          ? [`*-${monthPart}-${systemdField(day, DAY)} ${time}${zone}`]
          : [`${weekdayPart} *-${monthPart}-* ${time}${zone}`, `*-${monthPart}-${systemdField(day, DAY)} ${time}${zone}`];
  const fixedHours = !hour.some((h) => h.star);
  const seconds = expand(second).some((s) => s !== 0);
  return { ok: true, onCalendar, fixedHours, seconds };
}

/** `*`, `0/15` for a full-range step (systemd's repetition), else the explicit list (ranges as `a..b`). */
function systemdField(items: FieldItem[], spec: FieldSpec): string {
  const only = items.length === 1 ? items[0] : undefined;
  if (only?.star && only.step === 1) return '*';
  if (only?.star) return `${pad(spec.min)}/${only.step}`;
  const values = expand(items);
  const parts: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === (values[j] ?? 0) + 1) j++;
    const first = values[i] ?? 0;
    const last = values[j] ?? 0;
    if (j - i >= 2) parts.push(`${pad(first)}..${pad(last)}`);
    else for (let k = i; k <= j; k++) parts.push(pad(values[k] ?? 0));
    i = j + 1;
  }
  return parts.join(',');
}

const pad = (n: number) => String(n).padStart(2, '0');
