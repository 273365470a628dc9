import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type CronSchedule, nextRuns, planSchedule, toCrontabExpression, toSystemdCalendar } from '../../src/scheduling/schedule-plan.js';
import type { BkdrConfigInput } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { ConfigError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { systemdAnalyze } from '../helpers/systemd.js';

const destinations = [{ type: 'local' as const, config: { path: '/backup' } }];
const files = (extra: Record<string, unknown> = {}) => ({ type: 'files' as const, paths: ['/srv'], ...extra });
const plan = (input: Omit<BkdrConfigInput, 'destinations'>) => planSchedule(validateConfig({ destinations, ...input }));
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('planSchedule', () => {
  it('gives each source the top-level schedule unless it has its own, and no job without either; a source priority comes along (default normal)', () => {
    const jobs = plan({
      schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'UTC' },
      strategy: 'full',
      sources: {
        files: files(),
        db: files({ schedule: { type: 'interval', expression: '3600000' }, strategy: 'differential', priority: 'low' }),
      },
    });
    expect(jobs).toEqual([
      { id: 'backup:files', kind: 'backup', source: 'files', schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'UTC' }, strategy: 'full', priority: 'normal', scheduleFrom: 'schedule' },
      { id: 'backup:db', kind: 'backup', source: 'db', schedule: { type: 'interval', expression: '3600000' }, strategy: 'differential', priority: 'low', scheduleFrom: 'sources.db.schedule' },
    ]);

    const unscheduled = plan({ sources: { files: files(), db: files({ schedule: { type: 'cron', expression: '*/5 * * * *' } }) } });
    expect(unscheduled.map((j) => j.id)).toEqual(['backup:db']);
    expect(unscheduled[0]?.strategy).toBe('incremental');
  });

  it('marks sources on the continuous strategy as watch jobs', () => {
    const jobs = plan({ schedule: { type: 'interval', expression: '60000' }, sources: { files: files({ strategy: 'continuous' }), db: files() } });
    expect(jobs.map((j) => [j.id, j.kind, j.strategy])).toEqual([
      ['watch:files', 'watch', 'continuous'],
      ['backup:db', 'backup', 'incremental'],
    ]);
  });

  it.each([
    [
      'a bad value in a source schedule',
      { sources: { files: files({ schedule: { type: 'cron', expression: '61 * * * *' } }) } },
      'sources.files.schedule.expression',
      /not a valid cron expression .*minute/,
    ],
    [
      'a bad top-level expression, even when every source overrides it',
      { schedule: { type: 'cron', expression: '0 2 * * MOON' }, sources: { files: files({ schedule: { type: 'interval', expression: '1000' } }) } },
      'schedule.expression',
      /not a valid cron expression/,
    ],
    [
      'an unknown time zone',
      { sources: { files: files({ schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'Mars/Olympus' } }) } },
      'sources.files.schedule.timezone',
      /not a known IANA time zone/,
    ],
    ['a date that never comes', { sources: { files: files({ schedule: { type: 'cron', expression: '0 0 30 2 *' } }) } }, 'sources.files.schedule.expression', /never matches/],
  ] as const)('rejects %s with the config path and exit 2', (_name, input, path, message) => {
    const err = configErrorOf(() => plan(input as Omit<BkdrConfigInput, 'destinations'>));
    expect(err.path).toBe(path);
    expect(err.message).toMatch(new RegExp(`^${path.replace(/\./g, '\\.')}: `));
    expect(err.message).toMatch(message);
    expect(err.exitCode).toBe(ExitCode.Usage);
  });
});

describe('nextRuns', () => {
  it('follows a time zone across the spring DST change: 02:00 Paris does not exist on 29 March, the run comes right after the gap', () => {
    const schedule = { type: 'cron', expression: '0 2 * * *', timezone: 'Europe/Paris' } as const;
    expect(iso(nextRuns(schedule, new Date('2026-03-27T12:00:00Z'), 4))).toEqual([
      '2026-03-28T01:00:00.000Z', // 02:00 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first time after the gap
      '2026-03-30T00:00:00.000Z', // 02:00 CEST
      '2026-03-31T00:00:00.000Z',
    ]);
  });

  it('runs once when the autumn DST change repeats 02:00', () => {
    const schedule = { type: 'cron', expression: '30 2 * * *', timezone: 'Europe/Paris' } as const;
    expect(iso(nextRuns(schedule, new Date('2026-10-24T12:00:00Z'), 2))).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two 02:30s
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('gives times strictly after `from`', () => {
    const schedule = { type: 'cron', expression: '*/15 * * * *', timezone: 'UTC' } as const;
    expect(iso(nextRuns(schedule, new Date('2026-01-01T00:15:00Z'), 2))).toEqual(['2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z']);
  });

  it('counts intervals from `from`', () => {
    expect(iso(nextRuns({ type: 'interval', expression: '90000' }, new Date('2026-01-01T00:00:00Z'), 3))).toEqual(['2026-01-01T00:01:30.000Z', '2026-01-01T00:03:00.000Z', '2026-01-01T00:04:30.000Z']);
  });

  it('reads six fields as seconds first', () => {
    const schedule = { type: 'cron', expression: '*/20 * * * * *', timezone: 'UTC' } as const;
    expect(iso(nextRuns(schedule, new Date('2026-01-01T00:00:00Z'), 3))).toEqual(['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
  });
});

describe('crontab translation', () => {
  it.each([
    ['0 2 * * *', '0 2 * * *'],
    ['0 0 2 * * *', '0 2 * * *'],
    ['*/15 9-17 * * MON-FRI', '*/15 9-17 * * MON-FRI'],
  ])('%s goes in as %s', (expression, expected) => {
    expect(toCrontabExpression({ type: 'cron', expression })).toEqual({ ok: true, expression: expected });
  });

  it.each([
    ['*/30 * * * * *', /seconds field/],
    ['0 0 L * *', /croner syntax/],
    ['0 0 * * FRI#2', /croner syntax/],
  ])('%s cannot go in', (expression, reason) => {
    const t = toCrontabExpression({ type: 'cron', expression });
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.reason).toMatch(reason);
  });
});

describe('systemd OnCalendar translation', () => {
  const cases: [string, string | undefined, string[]][] = [
    ['0 2 * * *', 'Europe/Paris', ['*-*-* 02:00:00 Europe/Paris']],
    ['*/15 * * * *', undefined, ['*-*-* *:00/15:00']],
    ['0 9-17 * * 1-5', 'UTC', ['Mon,Tue,Wed,Thu,Fri *-*-* 09..17:00:00 UTC']],
    ['30 4 1,15 * *', 'UTC', ['*-*-01,15 04:30:00 UTC']],
    ['0 0 1 * 0', 'UTC', ['Sun *-*-* 00:00:00 UTC', '*-*-01 00:00:00 UTC']],
    ['0 12 * JAN,JUL SUN', 'UTC', ['Sun *-01,07-* 12:00:00 UTC']],
    ['10 0 */6 * * *', 'UTC', ['*-*-* 00/6:00:10 UTC']],
    ['0 0 1-20/5 * *', 'UTC', ['*-*-01,06,11,16 00:00:00 UTC']],
  ];

  it.each(cases)('%s (%s) becomes %j', (expression, timezone, expected) => {
    const t = toSystemdCalendar({ type: 'cron', expression, ...(timezone ? { timezone } : {}) });
    expect(t.ok && t.onCalendar).toEqual(expected);
  });

  it.each(['0 0 L * *', '0 0 * * 5#2', '0 0 */2 * 1'])('%s has no exact OnCalendar form', (expression) => {
    expect(toSystemdCalendar({ type: 'cron', expression }).ok).toBe(false);
  });

  // The translation claims exactness: systemd's own calendar must agree with croner, run for run.
  it.skipIf(!systemdAnalyze).each(cases.filter(([, tz]) => tz !== undefined))('systemd-analyze agrees with croner on %s', (expression, timezone) => {
    const schedule: CronSchedule = { type: 'cron', expression, ...(timezone ? { timezone } : {}) };
    const t = toSystemdCalendar(schedule);
    if (!t.ok) throw new Error(t.reason);
    // A base away from DST changes: systemd skips times in a gap, croner does not (tested above).
    const base = new Date('2026-05-04T10:00:00Z');
    const fromSystemd = new Set<string>();
    for (const calendar of t.onCalendar) {
      const out = execFileSync('systemd-analyze', ['calendar', `--base-time=@${base.getTime() / 1000}`, '--iterations=12', calendar], { env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
      for (const m of out.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)) fromSystemd.add(new Date(`${m[1]?.replace(' ', 'T')}Z`).toISOString());
    }
    const expected = iso(nextRuns(schedule, base, 12));
    expect([...fromSystemd].sort().slice(0, 12)).toEqual(expected);
  });
});
