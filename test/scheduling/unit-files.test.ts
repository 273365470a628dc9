import { describe, expect, it } from 'vitest';
import type { BkdrConfigInput } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import type { Schedule, ScheduledJob } from '../../src/scheduling/schedule-plan.js';
import { buildCrontab, buildSystemdUnits, carriedEnvironment, passwordNote, type UnitTarget } from '../../src/scheduling/unit-files.js';

const cron = (expression: string, timezone?: string): Schedule => ({ type: 'cron', expression, ...(timezone !== undefined ? { timezone } : {}) });
const every = (ms: number): Schedule => ({ type: 'interval', expression: String(ms) });
const backup = (source: string, schedule: Schedule): ScheduledJob => ({
  id: `backup:${source}`,
  kind: 'backup',
  source,
  schedule,
  strategy: 'incremental',
  priority: 'normal',
  scheduleFrom: `sources.${source}.schedule`,
});
const watch = (source: string, schedule: Schedule): ScheduledJob => ({
  id: `watch:${source}`,
  kind: 'watch',
  source,
  schedule,
  strategy: 'continuous',
  priority: 'normal',
  scheduleFrom: `sources.${source}.schedule`,
});
const prune = (schedule: Schedule): ScheduledJob => ({ id: 'prune', kind: 'prune', source: 'all', schedule, strategy: 'incremental', priority: 'normal', scheduleFrom: 'prune.schedule' });

const target: UnitTarget = { configPath: '/etc/bkdr/backup.config.json', launcher: ['/usr/bin/node', '/opt/bkdr/bin/bkdr.js'], environment: [], passwordNote: undefined };
const run = (source: string) => `/usr/bin/node /opt/bkdr/bin/bkdr.js -c /etc/bkdr/backup.config.json backup run --source ${source} --lock-wait 30m --quiet`;
const crontabHeader = [
  '# bkdr schedule for /etc/bkdr/backup.config.json (bkdr schedule install --crontab)',
  '# append to the crontab of the user who runs backups: (crontab -l; bkdr -c /etc/bkdr/backup.config.json schedule install --crontab) | crontab -',
  '# cron runs with a bare environment: anything the config reads from it must be set here.',
];
const lines = (...l: string[]) => `${l.join('\n')}\n`;

describe('buildCrontab', () => {
  it.each<{ name: string; jobs: ScheduledJob[]; target?: UnitTarget; expected: string }>([
    {
      name: "a source's low or high priority as --priority on its run (normal adds nothing)",
      jobs: [
        { ...backup('bulk', cron('0 1 * * *')), priority: 'low' },
        { ...backup('db', cron('0 2 * * *')), priority: 'high' },
      ],
      expected: lines(
        ...crontabHeader,
        '',
        '# backup:bulk (sources.bulk.schedule: 0 1 * * *)',
        `0 1 * * * ${run('bulk').replace(' --lock-wait', ' --priority low --lock-wait')}`,
        '',
        '# backup:db (sources.db.schedule: 0 2 * * *)',
        `0 2 * * * ${run('db').replace(' --lock-wait', ' --priority high --lock-wait')}`,
      ),
    },
    {
      name: 'a line per cron job, with the command that runs it',
      jobs: [backup('files', cron('15 3 * * 1-5')), prune(cron('30 4 * * 0'))],
      expected: lines(
        ...crontabHeader,
        '',
        '# backup:files (sources.files.schedule: 15 3 * * 1-5)',
        `15 3 * * 1-5 ${run('files')}`,
        '',
        '# prune (prune.schedule: 30 4 * * 0)',
        '30 4 * * 0 /usr/bin/node /opt/bkdr/bin/bkdr.js -c /etc/bkdr/backup.config.json backup prune --lock-wait 30m --quiet',
      ),
    },
    {
      name: 'zoned jobs last, each behind its CRON_TZ, since CRON_TZ carries over to every later line',
      jobs: [backup('paris', cron('0 2 * * *', 'Europe/Paris')), backup('local', cron('0 3 * * *')), backup('tokyo', cron('0 4 * * *', 'Asia/Tokyo'))],
      expected: lines(
        ...crontabHeader,
        '',
        '# backup:local (sources.local.schedule: 0 3 * * *)',
        `0 3 * * * ${run('local')}`,
        '',
        '# CRON_TZ is read by cronie (RHEL, Fedora, Arch); other crons may ignore it. It applies to every line below it.',
        '',
        '# backup:paris (sources.paris.schedule: 0 2 * * * (Europe/Paris))',
        'CRON_TZ=Europe/Paris',
        `0 2 * * * ${run('paris')}`,
        '',
        '# backup:tokyo (sources.tokyo.schedule: 0 4 * * * (Asia/Tokyo))',
        'CRON_TZ=Asia/Tokyo',
        `0 4 * * * ${run('tokyo')}`,
      ),
    },
    {
      name: 'what cron cannot run (intervals, seconds, croner syntax, watch jobs) gets a comment and no line',
      jobs: [backup('hourly', every(3_600_000)), backup('often', cron('*/30 * * * * *')), backup('last', cron('0 0 L * *')), watch('live', every(90_000)), backup('zero', cron('0 0 5 * * *'))],
      expected: lines(
        ...crontabHeader,
        '',
        '# backup:hourly (sources.hourly.schedule: every 1h00m)',
        '# cron has no intervals: run `bkdr schedule run` as a service, or use `bkdr schedule install --systemd`',
        '',
        '# backup:often (sources.often.schedule: */30 * * * * *)',
        "# '*/30 * * * * *' has a seconds field, which crontab cannot express: run `bkdr schedule run` as a service instead",
        '',
        '# backup:last (sources.last.schedule: 0 0 L * *)',
        "# '0 0 L * *' uses croner syntax (L, W, #, ?) that cron does not understand: run `bkdr schedule run` as a service instead",
        '',
        '# watch:live (sources.live.schedule: every 1m30s)',
        '# continuous strategy: `bkdr backup watch --source live` serves it, not cron',
        '',
        '# backup:zero (sources.zero.schedule: 0 0 5 * * *)',
        `0 5 * * * ${run('zero')}`,
      ),
    },
    {
      name: 'the password note and the carried environment come first; spaces are quoted and % escaped',
      jobs: [backup('files', cron('0 2 * * *'))],
      target: {
        configPath: '/srv/my backups/50%.json',
        launcher: ['/usr/bin/node', "/opt/it's/bkdr.js"],
        environment: [
          ['BKDR_CATALOG', '/var/lib/my bkdr/catalog.db'],
          ['BKDR_PASSWORD_FILE', '/etc/bkdr/password'],
        ],
        passwordNote: 'the repositories are encrypted',
      },
      expected: lines(
        '# bkdr schedule for /srv/my backups/50%.json (bkdr schedule install --crontab)',
        "# append to the crontab of the user who runs backups: (crontab -l; bkdr -c '/srv/my backups/50\\%.json' schedule install --crontab) | crontab -",
        '# cron runs with a bare environment: anything the config reads from it must be set here.',
        '# NOTE: the repositories are encrypted',
        'BKDR_CATALOG="/var/lib/my bkdr/catalog.db"',
        'BKDR_PASSWORD_FILE=/etc/bkdr/password',
        '',
        '# backup:files (sources.files.schedule: 0 2 * * *)',
        "0 2 * * * /usr/bin/node '/opt/it'\\''s/bkdr.js' -c '/srv/my backups/50\\%.json' backup run --source files --lock-wait 30m --quiet",
      ),
    },
  ])('$name', ({ jobs, target: t, expected }) => {
    expect(buildCrontab(jobs, t ?? target)).toBe(expected);
  });
});

const unitHeader = '# bkdr systemd units for /etc/bkdr/backup.config.json (bkdr schedule install --systemd)';
const service = (name: string, description: string, exec: string, extra: string[] = []) => [
  `# file: /etc/systemd/system/${name}.service`,
  '[Unit]',
  `Description=${description}`,
  'Wants=network-online.target',
  'After=network-online.target',
  '',
  '[Service]',
  'Type=oneshot',
  ...extra,
  `ExecStart=${exec}`,
  '',
];
const timer = (name: string, description: string, settings: string[]) => [
  `# file: /etc/systemd/system/${name}.timer`,
  '[Unit]',
  `Description=${description}`,
  '',
  '[Timer]',
  ...settings,
  '',
  '[Install]',
  'WantedBy=timers.target',
];
const DST = '# a time that a DST change skips is skipped here; `bkdr schedule run` runs it just after the change';

describe('buildSystemdUnits', () => {
  it.each<{ name: string; jobs: ScheduledJob[]; target?: UnitTarget; runAs?: string; expected: string }>([
    {
      name: 'a oneshot service and a timer for a cron job at fixed hours, in its zone',
      jobs: [backup('files', cron('0 2 * * *', 'Europe/Paris'))],
      expected: lines(
        unitHeader,
        '# save each file below, then: systemctl daemon-reload && systemctl enable --now bkdr-backup-files.timer',
        '',
        ...service('bkdr-backup-files', 'bkdr backup of source files', run('files')),
        ...timer('bkdr-backup-files', 'bkdr backup of source files: 0 2 * * * (Europe/Paris)', [DST, 'OnCalendar=*-*-* 02:00:00 Europe/Paris', 'Persistent=true']),
      ),
    },
    {
      name: 'an interval job starts one interval after the timer, then every interval; a non-root installer is the User=',
      jobs: [backup('hourly', every(3_600_000)), backup('odd', every(90_500))],
      runAs: 'backup',
      expected: lines(
        unitHeader,
        '# save each file below, then: systemctl daemon-reload && systemctl enable --now bkdr-backup-hourly.timer bkdr-backup-odd.timer',
        '',
        ...service('bkdr-backup-hourly', 'bkdr backup of source hourly', run('hourly'), [
          '# the user who ran `bkdr schedule install`: the same catalog and file access as `bkdr backup run`',
          'User=backup',
        ]),
        ...timer('bkdr-backup-hourly', 'bkdr backup of source hourly: every 1h00m', ['OnActiveSec=1h', 'OnUnitActiveSec=1h', 'AccuracySec=1s']),
        '',
        ...service('bkdr-backup-odd', 'bkdr backup of source odd', run('odd'), ['# the user who ran `bkdr schedule install`: the same catalog and file access as `bkdr backup run`', 'User=backup']),
        ...timer('bkdr-backup-odd', 'bkdr backup of source odd: every 1m31s', ['OnActiveSec=90500ms', 'OnUnitActiveSec=90500ms', 'AccuracySec=1s']),
      ),
    },
    {
      name: 'seconds ask for AccuracySec=1s; cron ORs day-of-month with day-of-week, so that takes two OnCalendar lines; prune has its own unit',
      jobs: [backup('often', cron('*/30 * * * * *')), prune(cron('0 12 1,15 * MON'))],
      expected: lines(
        unitHeader,
        '# save each file below, then: systemctl daemon-reload && systemctl enable --now bkdr-backup-often.timer bkdr-prune.timer',
        '',
        ...service('bkdr-backup-often', 'bkdr backup of source often', run('often')),
        ...timer('bkdr-backup-often', 'bkdr backup of source often: */30 * * * * *', ['OnCalendar=*-*-* *:*:00/30', 'Persistent=true', 'AccuracySec=1s']),
        '',
        ...service('bkdr-prune', 'bkdr prune (retention) of every destination', '/usr/bin/node /opt/bkdr/bin/bkdr.js -c /etc/bkdr/backup.config.json backup prune --lock-wait 30m --quiet'),
        ...timer('bkdr-prune', 'bkdr prune (retention) of every destination: 0 12 1,15 * MON', [DST, 'OnCalendar=Mon *-*-* 12:00:00', 'OnCalendar=*-*-01,15 12:00:00', 'Persistent=true']),
      ),
    },
    {
      name: 'watch jobs and cron expressions systemd cannot express get a note and no unit',
      jobs: [watch('live', every(90_000)), backup('last', cron('0 0 L * *'))],
      expected: lines(
        unitHeader,
        '# watch:live (sources.live.schedule: every 1m30s): continuous strategy; `bkdr backup watch --source live` serves it, not a timer',
        "# backup:last (sources.last.schedule: 0 0 L * *): '0 0 L * *' does not map exactly onto systemd OnCalendar; cron expressions that do not map are run by `bkdr schedule run` (as a service)",
      ),
    },
    {
      name: 'the password note goes in the header; environment and arguments keep % and $ literal and quote spaces',
      jobs: [backup('files', cron('0 * * * *'))],
      target: {
        configPath: '/srv/my backups/50%.json',
        launcher: ['/usr/bin/node', '/opt/bkdr/bin/bkdr.js'],
        environment: [
          ['BKDR_CATALOG', '/var/lib/my bkdr/catalog.db'],
          ['BKDR_PASSWORD_FILE', '/etc/bkdr/pw%$file'],
        ],
        passwordNote: 'the repositories are encrypted',
      },
      expected: lines(
        '# bkdr systemd units for /srv/my backups/50%.json (bkdr schedule install --systemd)',
        '# save each file below, then: systemctl daemon-reload && systemctl enable --now bkdr-backup-files.timer',
        '# NOTE: the repositories are encrypted',
        '',
        ...service('bkdr-backup-files', 'bkdr backup of source files', '/usr/bin/node /opt/bkdr/bin/bkdr.js -c "/srv/my backups/50%%.json" backup run --source files --lock-wait 30m --quiet', [
          'Environment="BKDR_CATALOG=/var/lib/my bkdr/catalog.db"',
          'Environment=BKDR_PASSWORD_FILE=/etc/bkdr/pw%%$$file',
        ]),
        ...timer('bkdr-backup-files', 'bkdr backup of source files: 0 * * * *', ['OnCalendar=*-*-* *:00:00', 'Persistent=true']),
      ),
    },
  ])('$name', ({ jobs, target: t, runAs, expected }) => {
    expect(buildSystemdUnits(jobs, t ?? target, runAs)).toBe(expected);
  });
});

describe('what a timer needs from the installing shell', () => {
  const local = [{ type: 'local' as const, config: { path: '/backup' } }];
  const config = (input: Omit<BkdrConfigInput, 'sources'> = { destinations: local }) => validateConfig({ sources: {}, ...input });
  const env = { BKDR_CATALOG: 'state/catalog.db', BKDR_PASSWORD_FILE: '/etc/bkdr/password', HOME: '/root', BKDR_PASSWORD: 'secret' };

  it.each<{ name: string; config: ReturnType<typeof config>; env: Record<string, string>; carried: [string, string][]; note: boolean }>([
    {
      name: 'catalog and password file paths are carried, made absolute; no secret is',
      config: config(),
      env,
      carried: [
        ['BKDR_CATALOG', '/home/op/state/catalog.db'],
        ['BKDR_PASSWORD_FILE', '/etc/bkdr/password'],
      ],
      note: false,
    },
    {
      name: 'nothing is carried that the config already sets',
      config: config({ destinations: local, catalog: { path: '/var/lib/bkdr.db' }, encryption: { passwordCommand: 'pass bkdr' } }),
      env,
      carried: [],
      note: false,
    },
    { name: 'encrypted repositories with no password file or command get a note', config: config(), env: { BKDR_PASSWORD: 'secret' }, carried: [], note: true },
    { name: 'unencrypted repositories need no password', config: config({ destinations: [{ ...local[0]!, encryption: false }] }), env: {}, carried: [], note: false },
  ])('$name', ({ config: c, env: e, carried, note }) => {
    expect(carriedEnvironment(c, e, '/home/op')).toEqual(carried);
    expect(passwordNote(c, e) !== undefined).toBe(note);
  });
});
