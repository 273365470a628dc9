/**
 * The crontab lines and systemd units that run a config's schedule (`bkdr schedule
 * install`) and the API server (`bkdr serve install`). Pure: whatever they read of the
 * installing shell (its environment, its directory, its user, the paths of node and
 * bkdr) is passed in.
 */

import { resolve } from 'node:path';
import type { BkdrConfig } from '../config/schema.js';
import { describeSchedule, intervalMs, type ScheduledJob, toCrontabExpression, toSystemdCalendar } from './schedule-plan.js';

/** Where and how the scheduled runs, or the server, start. */
export interface UnitTarget {
  /** The config the runs read, absolute. */
  configPath: string;
  /** What starts bkdr, absolute: node and bin/bkdr.js. */
  launcher: string[];
  /** Variables the runs need that cron and systemd would not have (never secrets). */
  environment: [string, string][];
  /** Said in the header when the runs would find no password; see `passwordNote`. */
  passwordNote: string | undefined;
}

/** The command a timer runs for `job`. */
export function jobCommand(job: ScheduledJob, t: UnitTarget): string[] {
  // A run that meets another one (a prune, a slow backup) waits for it rather than failing with exit 4.
  if (job.kind === 'dr-test') return [...t.launcher, '-c', t.configPath, 'dr', 'test', job.source, '--quiet'];
  // The run sets its own CPU and I/O priority, as it would from a shell.
  const priority = job.priority !== 'normal' ? ['--priority', job.priority] : [];
  return [...t.launcher, '-c', t.configPath, ...(job.kind === 'prune' ? ['backup', 'prune'] : ['backup', 'run', '--source', job.source, ...priority]), '--lock-wait', '30m', '--quiet'];
}

/** BKDR_CATALOG and BKDR_PASSWORD_FILE hold paths, not secrets; a timer would not see this shell's values. Relative ones resolve against `cwd`. */
export function carriedEnvironment(config: BkdrConfig, env: Readonly<Record<string, string | undefined>>, cwd: string): [string, string][] {
  const carried: [string, string][] = [];
  const catalog = env['BKDR_CATALOG'];
  if (!config.catalog?.path && catalog) carried.push(['BKDR_CATALOG', resolve(cwd, catalog)]);
  const passwordFile = env['BKDR_PASSWORD_FILE'];
  if (!config.encryption?.passwordFile && !config.encryption?.passwordCommand && passwordFile) carried.push(['BKDR_PASSWORD_FILE', resolve(cwd, passwordFile)]);
  return carried;
}

export function passwordNote(config: BkdrConfig, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const encrypted = config.destinations.some((d) => d.encryption !== false);
  if (!encrypted || config.encryption?.passwordFile || config.encryption?.passwordCommand || env['BKDR_PASSWORD_FILE']) return undefined;
  return 'the repositories are encrypted and cron or systemd gives no BKDR_PASSWORD or terminal: set encryption.passwordFile or encryption.passwordCommand in the config';
}

/** A time span in systemd's syntax, in the largest unit that divides it exactly. */
function systemdSpan(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** sh quoting, then crontab's rule that an unescaped % ends the command. */
function crontabArg(arg: string): string {
  const quoted = /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/%/g, '\\%');
}

/** systemd's own quoting: % starts a specifier and $ a variable, both doubled to stay literal. */
function systemdArg(arg: string): string {
  const literal = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(arg) ? `"${literal.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : literal;
}

/** Environment= lines for what `carriedEnvironment` found. */
function systemdEnvironment(t: UnitTarget): string[] {
  return t.environment.map(([key, value]) => `Environment=${systemdArg(`${key}=${value}`)}`);
}

/** `User=` for `runAs`, the installing user (none when that is root), so the unit sees what `like` saw when run by hand. */
function systemdUser(runAs: string | undefined, installedBy: string, like: string): string[] {
  return runAs !== undefined ? [`# the user who ran \`${installedBy}\`: the same catalog and file access as \`${like}\``, `User=${runAs}`] : [];
}

/** Crontab lines for the cron jobs; the others get a comment saying what serves them instead. */
export function buildCrontab(jobs: readonly ScheduledJob[], t: UnitTarget): string {
  const out = [
    `# bkdr schedule for ${t.configPath} (bkdr schedule install --crontab)`,
    `# append to the crontab of the user who runs backups: (crontab -l; bkdr -c ${crontabArg(t.configPath)} schedule install --crontab) | crontab -`,
    '# cron runs with a bare environment: anything the config reads from it must be set here.',
  ];
  if (t.passwordNote) out.push(`# NOTE: ${t.passwordNote}`);
  for (const [key, value] of t.environment) out.push(`${key}=${/\s/.test(value) ? `"${value}"` : value}`);
  const local: string[] = [];
  const zoned: string[] = [];
  for (const job of jobs) {
    const title = `# ${job.id} (${job.scheduleFrom}: ${describeSchedule(job.schedule)})`;
    if (job.kind === 'watch') {
      out.push('', title, `# continuous strategy: \`bkdr backup watch --source ${job.source}\` serves it, not cron`);
      continue;
    }
    if (job.schedule.type === 'interval') {
      out.push('', title, '# cron has no intervals: run `bkdr schedule run` as a service, or use `bkdr schedule install --systemd`');
      continue;
    }
    const translated = toCrontabExpression(job.schedule);
    if (!translated.ok) {
      out.push('', title, `# ${translated.reason}: run \`bkdr schedule run\` as a service instead`);
      continue;
    }
    const line = `${translated.expression} ${jobCommand(job, t).map(crontabArg).join(' ')}`;
    if (job.schedule.timezone === undefined) local.push('', title, line);
    else zoned.push('', title, `CRON_TZ=${job.schedule.timezone}`, line);
  }
  out.push(...local);
  // CRON_TZ holds for every line after it and nothing resets it to the system zone,
  // so the zoned entries come last.
  if (zoned.length > 0) out.push('', '# CRON_TZ is read by cronie (RHEL, Fedora, Arch); other crons may ignore it. It applies to every line below it.', ...zoned);
  return `${out.join('\n')}\n`;
}

/**
 * A oneshot service and a timer per job, each after a `# file:` line naming where it
 * goes. `runAs` is the services' `User=`: the installing user, undefined when that is root.
 */
export function buildSystemdUnits(jobs: readonly ScheduledJob[], t: UnitTarget, runAs: string | undefined): string {
  const units: string[] = [];
  const notes: string[] = [];
  const timers: string[] = [];
  for (const job of jobs) {
    const title = `${job.id} (${job.scheduleFrom}: ${describeSchedule(job.schedule)})`;
    if (job.kind === 'watch') {
      notes.push(`# ${title}: continuous strategy; \`bkdr backup watch --source ${job.source}\` serves it, not a timer`);
      continue;
    }
    let timer: string[];
    if (job.schedule.type === 'interval') {
      const span = systemdSpan(intervalMs(job.schedule));
      // OnActiveSec gives the first run; OnUnitActiveSec alone waits for a run that never came.
      timer = [`OnActiveSec=${span}`, `OnUnitActiveSec=${span}`, 'AccuracySec=1s'];
    } else {
      const translated = toSystemdCalendar(job.schedule);
      if (!translated.ok) {
        notes.push(`# ${title}: ${translated.reason}; cron expressions that do not map are run by \`bkdr schedule run\` (as a service)`);
        continue;
      }
      timer = [
        ...(translated.fixedHours ? ['# a time that a DST change skips is skipped here; `bkdr schedule run` runs it just after the change'] : []),
        ...translated.onCalendar.map((c) => `OnCalendar=${c}`),
        'Persistent=true',
        ...(translated.seconds ? ['AccuracySec=1s'] : []),
      ];
    }
    const name = job.kind === 'prune' ? 'bkdr-prune' : job.kind === 'dr-test' ? `bkdr-drtest-${job.source}` : `bkdr-backup-${job.source}`;
    const what = job.kind === 'prune' ? 'bkdr prune (retention) of every destination' : job.kind === 'dr-test' ? `bkdr DR test ${job.source}` : `bkdr backup of source ${job.source}`;
    timers.push(`${name}.timer`);
    units.push(
      `# file: /etc/systemd/system/${name}.service`,
      '[Unit]',
      `Description=${what}`,
      'Wants=network-online.target',
      'After=network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      ...systemdUser(runAs, 'bkdr schedule install', 'bkdr backup run'),
      ...systemdEnvironment(t),
      `ExecStart=${jobCommand(job, t).map(systemdArg).join(' ')}`,
      '',
      `# file: /etc/systemd/system/${name}.timer`,
      '[Unit]',
      `Description=${what}: ${describeSchedule(job.schedule).replace(/%/g, '%%')}`,
      '',
      '[Timer]',
      ...timer,
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    );
  }
  const header = [`# bkdr systemd units for ${t.configPath} (bkdr schedule install --systemd)`];
  if (timers.length > 0) header.push(`# save each file below, then: systemctl daemon-reload && systemctl enable --now ${timers.join(' ')}`);
  if (t.passwordNote) header.push(`# NOTE: ${t.passwordNote}`);
  return `${[...header, ...notes, '', ...units].join('\n').replace(/\n+$/, '')}\n`;
}

/** Where `bkdr serve` listens. `cert` and `key` are absolute: the service does not start in the installer's directory. */
export interface ServeListen {
  host: string;
  port: number;
  cert?: string;
  key?: string;
}

/** Addresses only this machine reaches; anything else (0.0.0.0, ::, a LAN address, a name) may face the network. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(host);
}

/**
 * `bkdr-serve.service`, a long-running service for `bkdr serve`, as the whole file.
 * `runAs` is its `User=`: the installing user, undefined when that is root.
 */
export function buildServeUnit(t: UnitTarget, serve: ServeListen, runAs: string | undefined): string {
  const tls = [...(serve.cert !== undefined ? ['--cert', serve.cert] : []), ...(serve.key !== undefined ? ['--key', serve.key] : [])];
  const command = [...t.launcher, '-c', t.configPath, 'serve', '--host', serve.host, '--port', String(serve.port), ...tls];
  const header = [
    `# bkdr API server for ${t.configPath} (bkdr serve install --systemd)`,
    '# save as /etc/systemd/system/bkdr-serve.service, then: systemctl daemon-reload && systemctl enable --now bkdr-serve',
  ];
  if (!isLoopback(serve.host)) {
    header.push(
      tls.length > 0
        ? `# NOTE: the API listens on ${serve.host}, reachable from the network; only its bearer tokens and TLS guard it`
        : `# NOTE: the API listens on ${serve.host}, reachable from the network, and without TLS its bearer tokens cross it in clear: pass --cert and --key`,
    );
  }
  if (t.passwordNote) header.push(`# NOTE: ${t.passwordNote}`);
  return `${[
    ...header,
    '',
    '[Unit]',
    'Description=bkdr API server (GraphQL, /metrics, /healthz, webhooks)',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...systemdUser(runAs, 'bkdr serve install', 'bkdr serve'),
    ...systemdEnvironment(t),
    `ExecStart=${command.map(systemdArg).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=5s',
    // SIGTERM is the server's graceful stop: it takes no new requests and lets running operations
    // record how they ended. 60s bounds that before systemd sends SIGKILL.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=60s',
    'NoNewPrivileges=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n')}\n`;
}
