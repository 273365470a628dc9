import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir, makeWorkspace } from '../helpers/cli.js';
import { systemdAnalyze } from '../helpers/systemd.js';

type Workspace = Awaited<ReturnType<typeof makeWorkspace>>;

/** How a unit starts bkdr: node with the flags of bin/bkdr.js's exec line, as an operator's `bkdr` runs. */
const launcher = `${process.execPath} --max-semi-space-size=4 ${bkdrBin}`;

/** Splits `schedule install --systemd` output into its `# file:` sections. */
function unitFiles(text: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^# file: (\S+)$/.exec(line);
    if (header?.[1]) {
      current = header[1];
      files.set(current, '');
    } else if (current) files.set(current, `${files.get(current) ?? ''}${line}\n`);
  }
  return files;
}

describe('bkdr schedule', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let src: string;
  let ws: Workspace;
  let cronWs: Workspace;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-schedule-');
    src = join(tmp.path, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(src, 'd', `f${i}`), `file ${i}\n`.repeat(100 + i));
    const intervalDir = join(tmp.path, 'interval');
    await mkdir(intervalDir);
    ws = await makeWorkspace(intervalDir, [src], { schedule: { type: 'interval', expression: '2000' } });
    const cronDir = join(tmp.path, 'cron');
    await mkdir(cronDir);
    cronWs = await makeWorkspace(cronDir, [src], {
      sources: {
        files: { type: 'files', paths: [src], schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'Europe/Paris' } },
        plain: { type: 'files', paths: [src], schedule: { type: 'cron', expression: '15 3 * * 1-5' } },
        often: { type: 'files', paths: [src], schedule: { type: 'cron', expression: '*/30 * * * * *' } },
        hourly: { type: 'files', paths: [src], schedule: { type: 'interval', expression: '3600000' } },
      },
      retention: { daily: 7 },
      prune: { schedule: { type: 'cron', expression: '30 4 * * 0' } },
    });
  });
  afterAll(() => tmp.cleanup());

  const listSnapshots = async (w: Workspace) => {
    const r = await w.run(['--json', 'backup', 'list']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { id: string; time: string; source: string }[];
  };

  it('schedule run backs up every 2 s until SIGTERM, then exits 0', async () => {
    const child = spawn(process.execPath, [bkdrBin, '-c', ws.config, 'schedule', 'run'], { env: { ...process.env, NO_COLOR: '1', ...ws.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    // Timing counts from the scheduler's first line, not the spawn: a loaded machine starts node late.
    let started: number | undefined;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (started === undefined && /SIGTERM or Ctrl-C stops/.test(stderr)) started = Date.now();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const succeeded = () => stderr.match(/^schedule: backup files succeeded /gm)?.length ?? 0;
    const spawned = Date.now();
    let elapsed: number;
    try {
      // Wait for the third run rather than a fixed 6.5 s. Its log line comes after
      // createBackup returned, so the snapshot is written by then.
      while (succeeded() < 3 && child.exitCode === null && Date.now() - (started ?? spawned) < 10_000) await sleep(20);
      elapsed = Date.now() - (started ?? spawned);
      child.kill('SIGTERM');
    } finally {
      if (child.exitCode === null) setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
    }
    const { code, signal } = await exited;
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    // Runs at 2, 4 and 6 s after the start: not sooner, and not much later.
    expect(elapsed).toBeGreaterThanOrEqual(5_000);
    expect(elapsed).toBeLessThanOrEqual(9_000);

    const snapshots = await listSnapshots(ws);
    expect(snapshots).toHaveLength(3);
    // The first run comes one interval after the start, not at once, and runs do not bunch up.
    const times = snapshots.map((s) => new Date(s.time).getTime()).sort((a, b) => a - b);
    expect(times[0]! - spawned).toBeGreaterThanOrEqual(2_000);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_000);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(1_000);
    expect(stderr.match(/^schedule: backup files started$/gm)).toHaveLength(3);
    expect(stderr.match(/^schedule: backup files succeeded \(snapshot [0-9a-f]{8}\) in /gm)).toHaveLength(3);
    expect(stderr).toMatch(/^schedule: stopped$/m);
  }, 30_000);

  it('schedule run also runs the prune job, one job at a time', async () => {
    const dir = join(tmp.path, 'pruned');
    const data = join(dir, 'src');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'f.txt'), 'x');
    const pw = await makeWorkspace(dir, [data], { schedule: { type: 'interval', expression: '1000' }, retention: { last: 1 }, prune: { schedule: { type: 'interval', expression: '2500' } } });
    const child = spawn(process.execPath, [bkdrBin, '-c', pw.config, 'schedule', 'run'], { env: { ...process.env, NO_COLOR: '1', ...pw.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!/^schedule: prune all succeeded \(local: forgot [1-9]/m.test(stderr) && Date.now() < deadline) await sleep(50);
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(/^schedule: prune all succeeded \(local: forgot [1-9]\d*, freed /m);
    // A prune and a backup never ran at once: each start follows the previous job's end.
    const events = stderr.split('\n').filter((l) => /^schedule: (backup|prune) \S+ (started|succeeded|failed|partial)/.test(l));
    for (let i = 0; i + 1 < events.length; i += 2) {
      expect(events[i]).toMatch(/ started$/);
      expect(events[i + 1]).toMatch(/ (succeeded|failed|partial)/);
    }
    expect((await listSnapshots(pw)).length).toBeLessThanOrEqual(2);
  }, 30_000);

  it('schedule list --json gives each job with its next three runs', async () => {
    const before = Date.now();
    const r = await ws.run(['--json', 'schedule', 'list']);
    expect(r.code, r.stderr).toBe(0);
    const jobs = JSON.parse(r.stdout) as { id: string; kind: string; source: string; schedule: unknown; strategy: string; nextRuns: string[] }[];
    expect(jobs).toEqual([
      {
        id: 'backup:files',
        kind: 'backup',
        source: 'files',
        schedule: { type: 'interval', expression: '2000' },
        strategy: 'incremental',
        priority: 'normal',
        scheduleFrom: 'schedule',
        nextRuns: expect.any(Array),
      },
    ]);
    const runs = jobs[0]!.nextRuns.map((t) => new Date(t).getTime());
    expect(runs).toHaveLength(3);
    expect(runs[0]).toBeGreaterThan(before);
    expect([runs[1]! - runs[0]!, runs[2]! - runs[1]!]).toEqual([2000, 2000]);

    const cron = await cronWs.run(['--json', 'schedule', 'list']);
    const byId = new Map((JSON.parse(cron.stdout) as { id: string; nextRuns: string[] }[]).map((j) => [j.id, j.nextRuns]));
    // 02:00 in Paris is 01:00 or 00:00 UTC, depending on the season.
    for (const t of byId.get('backup:files') ?? []) expect(t).toMatch(/T0[01]:00:00\.000Z$/);

    const table = await cronWs.run(['schedule', 'list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/backup:files.*0 2 \* \* \* \(Europe\/Paris\)/);
    expect(table.stdout).toMatch(/prune .*│ all .*30 4 \* \* 0/);
  });

  it('schedule install --crontab prints a crontab line per cron schedule and says what cannot go in', async () => {
    const r = await cronWs.run(['schedule', 'install', '--crontab']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const command = (source: string) => `${launcher} -c ${cronWs.config} backup run --source ${source} --lock-wait 30m --quiet`;
    expect(lines).toContain(`30 4 * * 0 ${launcher} -c ${cronWs.config} backup prune --lock-wait 30m --quiet`);
    expect(lines).toContain(`15 3 * * 1-5 ${command('plain')}`);
    const paris = lines.indexOf(`0 2 * * * ${command('files')}`);
    expect(lines[paris - 1]).toBe('CRON_TZ=Europe/Paris');
    // The zoned entry comes after the local one: CRON_TZ would carry over to it otherwise.
    expect(paris).toBeGreaterThan(lines.indexOf(`15 3 * * 1-5 ${command('plain')}`));
    expect(r.stdout).toMatch(/^# '\*\/30 \* \* \* \* \*' has a seconds field, which crontab cannot express: run `bkdr schedule run`/m);
    expect(r.stdout).toMatch(/^# cron has no intervals: run `bkdr schedule run`/m);
    expect(r.stdout).not.toMatch(/--source (often|hourly)/);
    // Every line is a comment, an environment line or a schedule.
    for (const line of lines.filter(Boolean)) expect(line).toMatch(/^(#|CRON_TZ=|BKDR_\w+=|[\d*])/);

    const interval = await ws.run(['schedule', 'install', '--crontab']);
    expect(interval.code, interval.stderr).toBe(0);
    expect(interval.stdout).toMatch(/^# backup:files \(schedule: every 2\.0s\)\n# cron has no intervals/m);
  });

  it('schedule install --systemd prints a oneshot service and a timer per schedule', async () => {
    const r = await cronWs.run(['schedule', 'install', '--systemd']);
    expect(r.code, r.stderr).toBe(0);
    const files = unitFiles(r.stdout);
    expect([...files.keys()].sort()).toEqual(
      [...['files', 'hourly', 'often', 'plain'].map((s) => `bkdr-backup-${s}`), 'bkdr-prune'].flatMap((n) => [`/etc/systemd/system/${n}.service`, `/etc/systemd/system/${n}.timer`]).sort(),
    );
    const service = files.get('/etc/systemd/system/bkdr-backup-files.service') ?? '';
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toContain(`ExecStart=${launcher} -c ${cronWs.config} backup run --source files --lock-wait 30m --quiet\n`);
    expect(files.get('/etc/systemd/system/bkdr-prune.service')).toContain(`ExecStart=${launcher} -c ${cronWs.config} backup prune --lock-wait 30m --quiet\n`);
    expect(files.get('/etc/systemd/system/bkdr-prune.timer')).toMatch(/^OnCalendar=Sun \*-\*-\* 04:30:00$/m);
    const timer = (s: string) => files.get(`/etc/systemd/system/bkdr-backup-${s}.timer`) ?? '';
    expect(timer('files')).toMatch(/^OnCalendar=\*-\*-\* 02:00:00 Europe\/Paris\nPersistent=true$/m);
    expect(timer('plain')).toMatch(/^OnCalendar=Mon,Tue,Wed,Thu,Fri \*-\*-\* 03:15:00$/m);
    expect(timer('often')).toMatch(/^OnCalendar=\*-\*-\* \*:\*:00\/30$/m);
    expect(timer('hourly')).toMatch(/^OnActiveSec=1h\nOnUnitActiveSec=1h$/m);
    for (const s of ['files', 'plain', 'often', 'hourly']) expect(timer(s)).toMatch(/^\[Install\]\nWantedBy=timers\.target$/m);

    if (systemdAnalyze) {
      const dir = join(tmp.path, 'units');
      await mkdir(dir);
      for (const [path, content] of files) await writeFile(join(dir, path.split('/').pop()!), content);
      const names = [...files.keys()].map((p) => join(dir, p.split('/').pop()!));
      // verify prints its complaints and exits non-zero on a unit systemd would refuse.
      expect(() => execFileSync('systemd-analyze', ['verify', '--man=no', ...names], { stdio: 'pipe' })).not.toThrow();
    }
  });

  it('schedule install needs exactly one of --crontab and --systemd (exit 2)', async () => {
    for (const args of [[], ['--crontab', '--systemd']]) {
      const r = await ws.run(['schedule', 'install', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe('bkdr: schedule install: pass one of --crontab or --systemd');
      expect(r.stdout).toBe('');
    }
  });

  it('schedule run without any schedule in the config fails at once with exit 2 and one line', async () => {
    const dir = join(tmp.path, 'unscheduled');
    await mkdir(dir);
    const plain = await makeWorkspace(dir, [src]);
    const r = await plain.run(['schedule', 'run']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['bkdr: nothing is scheduled: the config has no `schedule`, at the top level or on a source']);
  });
});
