/**
 * GFS retention with restic's semantics, so an operator moving from restic keeps the
 * same snapshots: snapshots are taken newest first; a `daily` rule keeps the newest
 * snapshot of each of the N most recent days that have one (likewise hourly, weekly
 * by ISO week, monthly, yearly); `last` keeps the N newest; `within` keeps everything
 * taken within the duration before the newest snapshot. A snapshot is kept when any
 * rule keeps it, and the decision lists every rule that did.
 */

export interface RetentionPolicy {
  last?: number | undefined;
  hourly?: number | undefined;
  daily?: number | undefined;
  weekly?: number | undefined;
  monthly?: number | undefined;
  yearly?: number | undefined;
  /** '1y6m', '30d', '12h': years, months, weeks, days, hours before the newest snapshot. */
  within?: string | undefined;
}

export type RetentionRule = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'within';

export interface RetentionDecision<T> {
  snapshot: T;
  keep: boolean;
  /** Why it is kept, e.g. ['daily', 'weekly']; empty when forgotten. */
  reasons: RetentionRule[];
}

interface CalendarParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

const BUCKET_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return BUCKET_RULES.every((r) => !policy[r]) && !policy.within;
}

/**
 * Decides keep/forget for one group of snapshots (one source on one repository).
 * An empty policy keeps everything. `timeZone` (IANA) sets where days begin; the
 * host's zone by default, as restic does.
 */
export function applyRetention<T extends { time: string }>(snapshots: readonly T[], policy: RetentionPolicy, timeZone?: string): RetentionDecision<T>[] {
  const newestFirst = [...snapshots].sort((a, b) => b.time.localeCompare(a.time));
  if (isEmptyPolicy(policy)) return newestFirst.map((snapshot) => ({ snapshot, keep: true, reasons: [] }));
  const parts = calendarPartsIn(timeZone);
  const withinCutoff = policy.within && newestFirst.length > 0 ? subtractDuration(new Date(newestFirst[0]!.time), policy.within) : undefined;

  const buckets = BUCKET_RULES.filter((rule) => (policy[rule] ?? 0) > 0).map((rule) => ({ rule, left: policy[rule]!, last: undefined as string | undefined }));
  return newestFirst.map((snapshot, position) => {
    const reasons: RetentionRule[] = [];
    const when = new Date(snapshot.time);
    const p = parts(when);
    for (const bucket of buckets) {
      if (bucket.left <= 0) continue;
      const value = bucketOf(bucket.rule, p, position);
      if (value === bucket.last) continue;
      bucket.last = value;
      bucket.left--;
      reasons.push(bucket.rule);
    }
    if (withinCutoff && when.getTime() >= withinCutoff.getTime()) reasons.push('within');
    return { snapshot, keep: reasons.length > 0, reasons };
  });
}

function bucketOf(rule: (typeof BUCKET_RULES)[number], p: CalendarParts, position: number): string {
  switch (rule) {
    case 'last':
      return String(position);
    case 'hourly':
      return `${p.year}-${p.month}-${p.day}T${p.hour}`;
    case 'daily':
      return `${p.year}-${p.month}-${p.day}`;
    case 'weekly': {
      const { year, week } = isoWeek(p.year, p.month, p.day);
      return `${year}-W${week}`;
    }
    case 'monthly':
      return `${p.year}-${p.month}`;
    case 'yearly':
      return String(p.year);
  }
}

/** ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of this week decides the ISO year.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const isoYear = date.getUTCFullYear();
  const firstDay = Date.UTC(isoYear, 0, 1);
  return { year: isoYear, week: Math.floor((date.getTime() - firstDay) / 86_400_000 / 7) + 1 };
}

function calendarPartsIn(timeZone: string | undefined): (d: Date) => CalendarParts {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' });
  return (d) => {
    const out: Record<string, number> = {};
    for (const part of format.formatToParts(d)) if (part.type !== 'literal') out[part.type] = Number(part.value);
    return { year: out['year']!, month: out['month']!, day: out['day']!, hour: out['hour']! };
  };
}

/** `within` counts back in calendar units from the newest snapshot, as restic's AddDate does. */
function subtractDuration(from: Date, duration: string): Date {
  const out = new Date(from);
  for (const [, amount, unit] of duration.matchAll(/(\d+)([ymwdh])/g)) {
    const n = Number(amount);
    if (unit === 'y') out.setUTCFullYear(out.getUTCFullYear() - n);
    else if (unit === 'm') out.setUTCMonth(out.getUTCMonth() - n);
    else if (unit === 'w') out.setUTCDate(out.getUTCDate() - 7 * n);
    else if (unit === 'd') out.setUTCDate(out.getUTCDate() - n);
    else out.setUTCHours(out.getUTCHours() - n);
  }
  return out;
}
