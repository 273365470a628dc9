import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { BackupManager, BackupRunResult, PruneResult } from '../../backup/backup-manager.js';
import {
  intervalMs,
  nextRuns,
  planSchedule,
  type Schedule,
  type ScheduledJob,
  toCrontabExpression,
  toSystemdCalendar,
} from '../../scheduling/schedule-plan.js';
import { Scheduler, type SchedulerEvent } from '../../scheduling/scheduler.js';
import type { BkdrConfig } from '../../config/schema.js';
import { ConfigError, InterruptedError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { binPath } from '../../core/package-root.js';
import type { CliContext } from '../context.js';
import { createTable, formatBytes, formatDuration, shortTime } from '../format.js';
import { withExample } from '../not-available.js';
import { backupManager, interruptSignal } from '../services.js';
import { continuousSources, reportWatchEvent } from '../watch-report.js';

/** What `schedule list --json` prints for each job. */
export interface ScheduleListEntry extends ScheduledJob {
  /** ISO times; empty for watch jobs, which no timer runs. Intervals count from now, as if the scheduler started now. */
  nextRuns: string[];
}

const NOTHING_SCHEDULED = 'nothing is scheduled: the config has no `schedule`, at the top level or on a source';

export function registerSchedule(program: Command, ctx: CliContext): void {
  const schedule = withExample(program.command('schedule').description('scheduled backups: list, run the scheduler, install cron/systemd units'), 'bkdr schedule list');

  withExample(
    schedule
      .command('list')
      .description('show schedules and their next run times')
      .action(async () => {
        const { config } = await ctx.config();
        const now = new Date();
        const entries: ScheduleListEntry[] = planSchedule(config).map((job) => ({
          ...job,
          nextRuns: job.kind !== 'watch' ? nextRuns(job.schedule, now, 3, job.scheduleFrom).map((d) => d.toISOString()) : [],
        }));
        ctx.render(entries, renderList);
      }),
    'bkdr schedule list --json',
  );

  withExample(
    schedule
      .command('run')
      .description('run due jobs in the foreground until SIGTERM')
      .option('--lock-wait <duration>', 'how long a job waits for a run outside this scheduler to release the repository (30s, 5m)')
      .action(async (flags: { lockWait?: string }) => {
        const { config } = await ctx.config();
        const jobs = planSchedule(config);
        const log = ctx.logger;
        // Continuous sources are watched, with or without a schedule; the timer jobs are the others.
        const watched = continuousSources(config);
        const backups = jobs.filter((j) => j.kind !== 'watch');
        if (backups.length === 0 && watched.length === 0) throw new ConfigError('', NOTHING_SCHEDULED);

        // One manager for the whole daemon resolves the password once (no prompt per run);
        // after a failed run it is rebuilt, so a password command or destination that failed
        // once is asked again rather than remembered as failed.
        let manager: BackupManager | undefined;
        const scheduler = new Scheduler<BackupRunResult | PruneResult>({
          jobs: backups,
          // The shared manager runs one backup at a time: createBackup ends by closing every
          // repository the manager holds, a concurrent run's included. Due jobs queue instead.
          maxConcurrent: 1,
          runJob: async (job, signal) => {
            try {
              manager ??= await backupManager(ctx, { lockWait: flags.lockWait });
              const result = job.kind === 'prune' ? await manager.pruneBackups({ signal }) : await manager.createBackup(job.source, { signal });
              if (result.status !== 'succeeded') manager = undefined;
              return result;
            } catch (err) {
              manager = undefined;
              throw err;
            }
          },
          onEvent: (e) => reportEvent(e, log),
        });
        const described = [...backups.map((j) => `${j.id} ${describeSchedule(j.schedule)}`), ...watched.map((w) => `watch:${w} continuous`)];
        log.info(`schedule: ${described.join(', ')}; SIGTERM or Ctrl-C stops`);
        const interrupt = interruptSignal();
        try {
          // The watcher has its own manager: one manager runs one backup at a time, and the two run side by side.
          const watching = watched.length > 0 ? (await backupManager(ctx, { lockWait: flags.lockWait })).watchSources(watched, { signal: interrupt.signal }, (e) => reportWatchEvent(e, log)) : undefined;
          await Promise.all([backups.length > 0 ? scheduler.run(interrupt.signal) : undefined, watching]);
        } finally {
          interrupt.dispose();
        }
        // A stop on SIGTERM is how this command is meant to end, even if it cut a run short.
        process.exitCode = ExitCode.Ok;
      }),
    'bkdr schedule run',
  );

  withExample(
    schedule
      .command('install')
      .description('print crontab lines or systemd units that run the schedule')
      .option('--crontab', 'print crontab lines')
      .option('--systemd', 'print a systemd service and timer')
      .action(async (flags: { crontab?: boolean; systemd?: boolean }) => {
        if (Boolean(flags.crontab) === Boolean(flags.systemd)) throw new UsageError('schedule install: pass one of --crontab or --systemd');
        const loaded = await ctx.config();
        const jobs = planSchedule(loaded.config);
        if (jobs.length === 0) throw new ConfigError('', NOTHING_SCHEDULED);
        const target: InstallTarget = {
          configPath: resolve(loaded.filepath),
          // A run that meets another one (a prune, a slow backup) waits for it rather than failing with exit 4.
          command: (job) => [process.execPath, binPath(), '-c', resolve(loaded.filepath), ...(job.kind === 'prune' ? ['backup', 'prune'] : ['backup', 'run', '--source', job.source]), '--lock-wait', '30m', '--quiet'],
          environment: carriedEnvironment(loaded.config),
          passwordNote: passwordNote(loaded.config),
        };
        process.stdout.write(flags.crontab ? renderCrontab(jobs, target) : renderSystemd(jobs, target));
      }),
    'bkdr schedule install --systemd',
  );
}

// ---- list ----

function describeSchedule(s: Schedule): string {
  return s.type === 'cron' ? `${s.expression}${s.timezone !== undefined ? ` (${s.timezone})` : ''}` : `every ${formatDuration(intervalMs(s))}`;
}

function renderList(entries: ScheduleListEntry[]): string {
  if (entries.length === 0) return NOTHING_SCHEDULED;
  const table = createTable(['job', 'source', 'schedule', 'strategy', 'next runs']);
  for (const e of entries) {
    table.push([e.id, e.source, describeSchedule(e.schedule), e.strategy, e.kind === 'watch' ? 'continuous: bkdr backup watch' : e.nextRuns.map(shortTime).join('\n')]);
  }
  const lines = [table.toString()];
  if (entries.some((e) => e.kind === 'backup' && e.schedule.type === 'interval')) lines.push('interval schedules count from when `bkdr schedule run` starts');
  return lines.join('\n');
}

// ---- run ----

function reportEvent(e: SchedulerEvent<BackupRunResult | PruneResult>, log: CliContext['logger']): void {
  const what = 'job' in e ? `schedule: ${e.job.kind} ${e.job.source}` : 'schedule:';
  switch (e.type) {
    case 'started':
      log.info(`${what} started`);
      return;
    case 'finished': {
      if ('destinations' in e.result) {
        const p = e.result;
        const freed = p.destinations.map((d) => `${d.destination}: forgot ${d.forgotten}, freed ${formatBytes(d.report?.bytesFreed ?? 0)}`).join('; ');
        const failures = p.failures.map((f) => `${f.destination}: ${f.error}`).join('; ');
        const line = `${what} ${p.status} (${[freed, failures].filter(Boolean).join('; ')}) in ${formatDuration(e.durationMs)}, run ${p.runId.slice(0, 8)}`;
        if (p.status === 'succeeded') log.info(line);
        else log.error(line);
        return;
      }
      const r = e.result;
      const snapshots = r.backups.map((b) => b.snapshotId.slice(0, 8));
      const shown = snapshots.length === 1 ? `snapshot ${snapshots[0]}` : r.backups.map((b) => `${b.snapshotId.slice(0, 8)} on ${b.destination}`).join(', ');
      const failures = r.failures.map((f) => `${f.destination}: ${f.error}`).join('; ');
      const detail = [snapshots.length > 0 ? shown : '', failures].filter(Boolean).join('; ');
      const line = `${what} ${r.status}${detail ? ` (${detail})` : ''} in ${formatDuration(e.durationMs)}, run ${r.runId.slice(0, 8)}`;
      if (r.status === 'succeeded') log.info(line);
      else if (r.status === 'partial') log.warn(line);
      else log.error(line);
      return;
    }
    case 'failed':
      if (e.error instanceof InterruptedError) log.warn(`${what} interrupted after ${formatDuration(e.durationMs)}; it wrote no snapshot`);
      else log.error(`${what} failed after ${formatDuration(e.durationMs)}: ${e.error instanceof Error ? e.error.message : String(e.error)}`);
      return;
    case 'skipped':
      log.warn(`${what} skipped: ${e.reason}`);
      return;
    case 'stopping':
      log.info(`${what} stopping${e.running.length > 0 ? `; waiting for ${e.running.map((j) => `${j.kind} ${j.source}`).join(', ')} to stop` : ''}`);
      return;
    case 'stopped':
      log.info(`${what} stopped`);
      return;
  }
}

// ---- install ----

interface InstallTarget {
  configPath: string;
  command: (job: ScheduledJob) => string[];
  /** Variables the runs need that cron and systemd would not have (never secrets). */
  environment: [string, string][];
  passwordNote: string | undefined;
}

/** BKDR_CATALOG and BKDR_PASSWORD_FILE hold paths, not secrets; a timer would not see this shell's values. */
function carriedEnvironment(config: BkdrConfig): [string, string][] {
  const env: [string, string][] = [];
  const catalog = process.env['BKDR_CATALOG'];
  if (!config.catalog?.path && catalog) env.push(['BKDR_CATALOG', resolve(catalog)]);
  const passwordFile = process.env['BKDR_PASSWORD_FILE'];
  if (!config.encryption?.passwordFile && !config.encryption?.passwordCommand && passwordFile) env.push(['BKDR_PASSWORD_FILE', resolve(passwordFile)]);
  return env;
}

function passwordNote(config: BkdrConfig): string | undefined {
  const encrypted = config.destinations.some((d) => d.encryption !== false);
  if (!encrypted || config.encryption?.passwordFile || config.encryption?.passwordCommand || process.env['BKDR_PASSWORD_FILE']) return undefined;
  return 'the repositories are encrypted and a timer has no BKDR_PASSWORD or terminal: set encryption.passwordFile or encryption.passwordCommand in the config';
}

/** A time span in systemd's syntax, in the largest unit that divides it exactly. */
function systemdSpan(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
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

function renderCrontab(jobs: ScheduledJob[], t: InstallTarget): string {
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
    const line = `${translated.expression} ${t.command(job).map(crontabArg).join(' ')}`;
    if (job.schedule.timezone === undefined) local.push('', title, line);
    else zoned.push('', title, `CRON_TZ=${job.schedule.timezone}`, line);
  }
  out.push(...local);
  // CRON_TZ holds for every line after it and nothing resets it to the system zone,
  // so the zoned entries come last.
  if (zoned.length > 0) out.push('', '# CRON_TZ is read by cronie (RHEL, Fedora, Arch); other crons may ignore it. It applies to every line below it.', ...zoned);
  return `${out.join('\n')}\n`;
}

function renderSystemd(jobs: ScheduledJob[], t: InstallTarget): string {
  const units: string[] = [];
  const notes: string[] = [];
  const timers: string[] = [];
  const runAs = process.getuid?.() === 0 ? undefined : userInfo().username;
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
    const name = job.kind === 'prune' ? 'bkdr-prune' : `bkdr-backup-${job.source}`;
    const what = job.kind === 'prune' ? 'bkdr prune (retention) of every destination' : `bkdr backup of source ${job.source}`;
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
      ...(runAs !== undefined ? ['# the user who ran `bkdr schedule install`: the same catalog and file access as `bkdr backup run`', `User=${runAs}`] : []),
      ...t.environment.map(([key, value]) => `Environment=${systemdArg(`${key}=${value}`)}`),
      `ExecStart=${t.command(job).map(systemdArg).join(' ')}`,
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
