// `npm run bench`: first backup, incremental backup and full restore of a deterministic
// dataset with bkdr, and with restic and borg when they are installed, side by side.
// BENCH_SCALE=small|default|large, BENCH_RUNS=N (median of N, default 3), BENCH_DIR=<scratch dir>.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyGeneration2, generateGeneration1, scales } from './dataset.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
const scaleName = process.env.BENCH_SCALE ?? 'default';
const scale = scales[scaleName];
if (!scale) throw new Error(`BENCH_SCALE must be one of ${Object.keys(scales).join(', ')}`);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const scratch = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'bkdr-bench-'));
const password = 'bench-password';

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Runs a command, polling /proc for its peak RSS (VmHWM); returns wall ms and peak KiB. */
function measure(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    let stderr = '';
    let peak = 0;
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        /* exited between polls */
      }
    }, 10);
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolvePromise({ ms, rssKiB: peak });
    });
  });
}

function du(dir) {
  let total = 0;
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else total += st.size;
    }
  };
  walk(dir);
  return total;
}

const tools = {
  bkdr: {
    setup(dir, work) {
      const config = join(dir, 'backup.config.json');
      writeFileSync(config, JSON.stringify({
        sources: { bench: { type: 'files', paths: [work] } },
        destinations: [{ name: 'local', type: 'local', config: { path: join(dir, 'repo') } }],
        compression: { enabled: true, algorithm: 'lz4' },
        catalog: { path: join(dir, 'catalog.db') },
      }));
      const env = { ...process.env, BKDR_PASSWORD: password, NO_COLOR: '1' };
      const bkdr = (...args) => [process.execPath, [join(root, 'bin/bkdr.js'), '-q', '-c', config, ...args], { env }];
      return {
        init: null,
        backup: () => bkdr('backup', 'run'),
        restore: (target) => bkdr('restore', '--target', target),
        repo: join(dir, 'repo'),
      };
    },
  },
  restic: {
    available: () => has('restic'),
    setup(dir, work) {
      const env = { ...process.env, RESTIC_PASSWORD: password, RESTIC_REPOSITORY: join(dir, 'repo'), RESTIC_CACHE_DIR: join(dir, 'cache') };
      return {
        init: ['restic', ['init'], { env }],
        backup: () => ['restic', ['backup', '--quiet', work], { env }],
        restore: (target) => ['restic', ['restore', 'latest', '--target', target], { env }],
        repo: join(dir, 'repo'),
      };
    },
  },
  borg: {
    available: () => has('borg'),
    setup(dir, work) {
      const env = { ...process.env, BORG_PASSPHRASE: password, BORG_REPO: join(dir, 'repo'), BORG_BASE_DIR: join(dir, 'base'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' };
      let n = 0;
      return {
        init: ['borg', ['init', '--encryption', 'repokey'], { env }],
        backup: () => ['borg', ['create', '--compression', 'lz4', `::gen${++n}`, work], { env }],
        restore: (target) => ['borg', ['extract', `::gen${n}`], { env, cwd: target }],
        repo: join(dir, 'repo'),
      };
    },
  },
};

async function benchTool(name, pristine) {
  const samples = { first: [], incremental: [], restore: [] };
  let repoBytes = 0;
  for (let i = 0; i < runs; i++) {
    const dir = mkdtempSync(join(scratch, `${name}-`));
    const work = join(dir, 'data');
    cpSync(pristine, work, { recursive: true, preserveTimestamps: true });
    const t = tools[name].setup(dir, work);
    if (t.init) await measure(...t.init);
    samples.first.push(await measure(...t.backup()));
    applyGeneration2(work, scale);
    samples.incremental.push(await measure(...t.backup()));
    repoBytes = du(t.repo);
    const target = join(dir, 'restore');
    spawnSync('mkdir', ['-p', target]);
    samples.restore.push(await measure(...t.restore(target)));
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs, key) => xs.map((x) => x[key]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries([
    ...['first', 'incremental', 'restore'].flatMap((k) => [[`${k}Ms`, median(samples[k], 'ms')], [`${k}RssMiB`, median(samples[k], 'rssKiB') / 1024]]),
    ['repoMiB', repoBytes / 2 ** 20],
  ]);
}

const pristine = join(scratch, 'gen1');
process.stderr.write(`generating the '${scaleName}' dataset in ${pristine}\n`);
generateGeneration1(pristine, scale);
const datasetMiB = du(pristine) / 2 ** 20;

const results = {};
for (const name of Object.keys(tools)) {
  if (tools[name].available && !tools[name].available()) {
    process.stderr.write(`${name}: not installed, skipped (apt-get install ${name === 'borg' ? 'borgbackup' : name})\n`);
    continue;
  }
  process.stderr.write(`${name}: ${runs} runs\n`);
  results[name] = await benchTool(name, pristine);
}
rmSync(scratch, { recursive: true, force: true });

const rows = [
  ['first backup (s)', 'firstMs', 1000],
  ['first backup peak RSS (MiB)', 'firstRssMiB', 1],
  ['incremental backup (s)', 'incrementalMs', 1000],
  ['incremental peak RSS (MiB)', 'incrementalRssMiB', 1],
  ['full restore (s)', 'restoreMs', 1000],
  ['restore peak RSS (MiB)', 'restoreRssMiB', 1],
  ['repository size (MiB)', 'repoMiB', 1],
];
const names = Object.keys(results);
const others = names.filter((n) => n !== 'bkdr');
const header = ['figure', ...names, ...others.map((o) => `bkdr/${o}`)];
const lines = [header, ...rows.map(([label, key, div]) => [
  label,
  ...names.map((n) => (results[n][key] / div).toFixed(2)),
  ...others.map((o) => (results.bkdr[key] / results[o][key]).toFixed(2)),
])];
const widths = header.map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
console.log(`dataset '${scaleName}': ${scale.files} small files, ${scale.dumpMiB} MiB dump, ${scale.randomMiB} MiB random (${datasetMiB.toFixed(0)} MiB); median of ${runs} runs`);
for (const l of lines) console.log(l.map((c, i) => String(c).padEnd(widths[i])).join('  '));
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ scale: scaleName, runs, results }, null, 2));
