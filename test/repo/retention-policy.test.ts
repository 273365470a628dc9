import { describe, expect, it } from 'vitest';
import { applyRetention, isoWeek } from '../../src/repo/retention-policy.js';

/** One snapshot a day at 02:00 UTC from `from` to `to` inclusive. */
function daily(from: string, to: string): { time: string }[] {
  const out: { time: string }[] = [];
  for (let t = Date.parse(`${from}T02:00:00Z`); t <= Date.parse(`${to}T02:00:00Z`); t += 86_400_000) out.push({ time: new Date(t).toISOString() });
  return out;
}

const kept = (decisions: { snapshot: { time: string }; keep: boolean }[]) => decisions.filter((d) => d.keep).map((d) => d.snapshot.time);

describe('GFS retention (restic semantics)', () => {
  it('keeps daily 7 / weekly 4 / monthly 12 / yearly 3 over three years of daily snapshots', () => {
    // A second snapshot on the newest day: only the newer of the two may be kept.
    const snapshots = [...daily('2023-01-01', '2025-12-31'), { time: '2025-12-31T14:00:00.000Z' }];
    const decisions = applyRetention(snapshots, { daily: 7, weekly: 4, monthly: 12, yearly: 3 }, 'UTC');

    // Worked out by hand. The newest day, 2025-12-31 (a Wednesday), belongs to ISO week
    // 2026-W01; its newest snapshot is the 14:00 one, which every rule keeps.
    const daysKept = ['2025-12-30', '2025-12-29', '2025-12-28', '2025-12-27', '2025-12-26', '2025-12-25'];
    // Weeks: 2026-W01 (12-31, above), 2025-W52 ends Sunday 12-28 (kept as daily), then the Sundays 12-21 and 12-14.
    const weeksKept = ['2025-12-21', '2025-12-14'];
    // Months: the last day of each month of 2025 (December's is the 14:00 snapshot).
    const monthsKept = ['2025-11-30', '2025-10-31', '2025-09-30', '2025-08-31', '2025-07-31', '2025-06-30', '2025-05-31', '2025-04-30', '2025-03-31', '2025-02-28', '2025-01-31'];
    // Years: the last day of 2025 (above), 2024 and 2023.
    const yearsKept = ['2024-12-31', '2023-12-31'];
    const expected = ['2025-12-31T14:00:00.000Z', ...[...daysKept, ...weeksKept, ...monthsKept, ...yearsKept].map((d) => `${d}T02:00:00.000Z`)];

    expect(kept(decisions)).toEqual(expected);
    expect(decisions.filter((d) => !d.keep)).toHaveLength(snapshots.length - 22);
    expect(decisions[0]!.reasons).toEqual(['daily', 'weekly', 'monthly', 'yearly']);
    expect(decisions.find((d) => d.snapshot.time.startsWith('2025-12-28'))!.reasons).toEqual(['daily', 'weekly']);
    expect(decisions.find((d) => d.snapshot.time === '2025-12-31T02:00:00.000Z')!.keep).toBe(false);
  });

  it('counts only periods that have a snapshot: gaps reach further back', () => {
    const snapshots = [{ time: '2025-06-10T01:00:00Z' }, { time: '2025-06-03T01:00:00Z' }, { time: '2025-06-02T01:00:00Z' }, { time: '2025-05-01T01:00:00Z' }];
    expect(kept(applyRetention(snapshots, { daily: 3 }, 'UTC'))).toEqual(['2025-06-10T01:00:00Z', '2025-06-03T01:00:00Z', '2025-06-02T01:00:00Z']);
  });

  it('keeps the last N, and everything within a duration of the newest', () => {
    const snapshots = daily('2025-01-01', '2025-03-31');
    expect(kept(applyRetention(snapshots, { last: 2 }, 'UTC'))).toEqual(['2025-03-31T02:00:00.000Z', '2025-03-30T02:00:00.000Z']);
    const tenDays = kept(applyRetention(snapshots, { within: '10d' }, 'UTC'));
    expect(tenDays).toHaveLength(11);
    expect(tenDays.at(-1)).toBe('2025-03-21T02:00:00.000Z');
    // Calendar arithmetic as restic's (Go's AddDate): March 31 minus one month is "February 31", i.e. March 3.
    expect(kept(applyRetention(snapshots, { within: '1m' }, 'UTC')).at(-1)).toBe('2025-03-03T02:00:00.000Z');
  });

  it('puts day boundaries in the configured time zone', () => {
    // 23:30 UTC on the 1st is already the 2nd in Paris: two different days in UTC, one in Paris.
    const snapshots = [{ time: '2025-03-02T08:00:00Z' }, { time: '2025-03-01T23:30:00Z' }];
    expect(kept(applyRetention(snapshots, { daily: 5 }, 'UTC'))).toHaveLength(2);
    expect(kept(applyRetention(snapshots, { daily: 5 }, 'Europe/Paris'))).toEqual(['2025-03-02T08:00:00Z']);
  });

  it('keeps everything when no rule is set', () => {
    const snapshots = daily('2025-01-01', '2025-01-05');
    expect(kept(applyRetention(snapshots, {}, 'UTC'))).toHaveLength(5);
  });

  it('numbers ISO weeks across year ends', () => {
    expect(isoWeek(2025, 12, 29)).toEqual({ year: 2026, week: 1 });
    expect(isoWeek(2021, 1, 3)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2024, 12, 30)).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(2023, 1, 2)).toEqual({ year: 2023, week: 1 });
  });
});
