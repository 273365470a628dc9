import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailableYet, withExample } from '../not-available.js';

export function registerSchedule(program: Command, _ctx: CliContext): void {
  const schedule = withExample(program.command('schedule').description('scheduled backups: list, run the scheduler, install cron/systemd units'), 'bkdr schedule list');
  withExample(notAvailableYet(schedule.command('list').description('show schedules and their next run times')), 'bkdr schedule list --json');
  withExample(notAvailableYet(schedule.command('run').description('run due jobs in the foreground until SIGTERM')), 'bkdr schedule run');
  withExample(
    notAvailableYet(
      schedule
        .command('install')
        .description('print crontab lines or systemd units that run the schedule')
        .option('--crontab', 'print crontab lines')
        .option('--systemd', 'print a systemd service and timer'),
    ),
    'bkdr schedule install --systemd',
  );
}
