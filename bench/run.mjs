// `npm run bench`: first backup, incremental backup and full restore with bkdr, and with
// restic and borg when they are installed, side by side, on deterministic datasets
// (bench/dataset.mjs), then whether bkdr meets its performance goals.
//
// BENCH_CASES=mixed,small-files,large-file,real-tree (default: all four); add `wal` for
//   the WAL push/fetch section (bkdr alone; only when named)
// BENCH_SCALE=small|default|large   size of the mixed case
// BENCH_SMALL_FILES=N               files in the small-files case (default 200000)
// BENCH_LARGE_MIB=N                 size of the large-file case (default 4096)
// BENCH_REAL_TREE_FILES=N          files and symlinks in the real-tree case (default 50000)
// BENCH_WAL_SEGMENTS=N             16 MiB segments in the wal section (default 200)
// BENCH_RUNS=N                      median of N runs per tool and case (default 3)
// BENCH_FLAT=1                      also bkdr alone on 100 k and 1 M small files (flat RSS goal,
//                                   medians of BENCH_RUNS first backups of each, taking turns);
//   BENCH_FLAT_FILES=100000,1000000 overrides the two counts
// BENCH_DIR=<dir>                   where the scratch directory goes (default: the OS temp dir;
//                                   the defaults need about 45 GB free there)
// BENCH_JSON=<file>                 also write every figure as JSON
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync, readdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyGeneration2, scales, walName, WAL_SEGMENT_BYTES } from './dataset.mjs';
import { changeRealTree, REAL_TREE_DEFAULT_FILES } from './real-tree.mjs';
import { binNodeFlags } from '../dist/core/package-root.js';

const root = resolve(new URL('..', import.meta.url).pathname);
const datasetScript = join(root, 'bench/dataset.mjs');
/** The node flags of bin/bkdr.js's exec line: bkdr runs with them, as an operator's `bkdr` does. */
const bkdrNodeFlags = binNodeFlags();
const realTreeScript = join(root, 'bench/real-tree.mjs');
const password = 'bench-password';

// ---- settings -------------------------------------------------------------------------

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got '${raw}')`);
  return n;
}

const scaleName = process.env.BENCH_SCALE || 'default';
const scale = scales[scaleName];
if (!scale) throw new Error(`BENCH_SCALE must be one of ${Object.keys(scales).join(', ')}`);
const runs = positiveInt('BENCH_RUNS', 3);
const smallFiles = positiveInt('BENCH_SMALL_FILES', 200_000);
const largeMiB = positiveInt('BENCH_LARGE_MIB', 4096);
const realTreeFiles = positiveInt('BENCH_REAL_TREE_FILES', REAL_TREE_DEFAULT_FILES);
const walSegments = positiveInt('BENCH_WAL_SEGMENTS', 200);
const flat = process.env.BENCH_FLAT === '1';
const flatCounts = (process.env.BENCH_FLAT_FILES || '100000,1000000').split(',').map(Number);
if (flatCounts.length !== 2 || !flatCounts.every((n) => Number.isInteger(n) && n > 0)) {
  throw new Error('BENCH_FLAT_FILES must be two positive integers, e.g. 100000,1000000');
}

// ---- processes ----------------------------------------------------------------------------

/** The child being run, so that Ctrl-C can stop it before its scratch directory goes. */
let current = null;

function log(line) {
  process.stderr.write(`${line}\n`);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Peak RSS (VmHWM, KiB) and bytes passed to read() so far (rchar) of a live process. */
function sample(pid, into) {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) into.rssKiB = Math.max(into.rssKiB, Number(m[1]));
    const r = /rchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    if (r) into.readBytes = Number(r[1]);
  } catch {
    /* exited between polls, or /proc/<pid>/io not readable: keep what we have */
  }
}

/**
 * Runs a command, polling /proc every 10 ms; returns wall ms, peak KiB and the bytes it
 * read (the last poll's rchar: it tells a no-op incremental that reads files from one that
 * only stats them).
 */
function measure(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    current = child;
    const result = { ms: 0, rssKiB: 0, readBytes: null };
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const poll = setInterval(() => sample(child.pid, result), 10);
    child.on('error', (err) => {
      clearInterval(poll);
      current = null;
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      current = null;
      result.ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${stderr.slice(-2000)}`));
      else resolvePromise(result);
    });
  });
}

/**
 * Datasets are built by a child (`node bench/dataset.mjs`): building a GiB or a million
 * files takes minutes of synchronous work, which would keep this process from handling Ctrl-C.
 */
async function generate(kind, dir, param, args = [datasetScript, kind, dir, String(param)]) {
  const started = Date.now();
  log(`generating the '${kind}' dataset (${param}) in ${dir}`);
  await measure(process.execPath, args);
  const bytes = du(dir);
  log(`  ${(bytes / 2 ** 20).toFixed(0)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bytes;
}

/** Total size of the regular files (and links) under dir. */
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

/**
 * Stricter than du(): the same paths with the same type, symlinks with the same target text
 * (not followed), regular files with the same bytes (SHA-256); returns the hard-link groups
 * of `expected` (paths sharing an inode) and how many of them `actual` shares too.
 */
function compareTrees(expected, actual) {
  const groups = (dir) => {
    const byInode = new Map();
    const walk = (d, rel) => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        const r = rel ? `${rel}/${name}` : name;
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p, r);
        else if (st.isFile() && st.nlink > 1) byInode.set(st.ino, [...(byInode.get(st.ino) ?? []), r]);
      }
    };
    walk(dir, '');
    return new Set([...byInode.values()].filter((g) => g.length > 1).map((g) => g.join('\0')));
  };
  const walk = (rel) => {
    const [a, b] = [join(expected, rel), join(actual, rel)];
    const names = readdirSync(a).sort();
    const got = readdirSync(b).sort();
    if (names.join('/') !== got.join('/')) {
      const missing = names.filter((n) => !got.includes(n)).slice(0, 3);
      const extra = got.filter((n) => !names.includes(n)).slice(0, 3);
      throw new Error(`restore differs in ${rel || '.'}: missing ${missing.join(', ') || '–'}, extra ${extra.join(', ') || '–'}`);
    }
    for (const name of names) {
      const r = join(rel, name);
      const [sa, sb] = [lstatSync(join(a, name)), lstatSync(join(b, name))];
      const type = (st) => (st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'special');
      if (type(sa) !== type(sb)) throw new Error(`restore: ${r} is a ${type(sb)}, was a ${type(sa)}`);
      if (sa.isDirectory()) walk(r);
      else if (sa.isSymbolicLink()) {
        if (readlinkSync(join(a, name)) !== readlinkSync(join(b, name))) throw new Error(`restore: symlink ${r} points elsewhere`);
      } else if (sa.isFile()) {
        const hash = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
        if (sa.size !== sb.size || hash(join(a, name)) !== hash(join(b, name))) throw new Error(`restore: ${r} has other bytes`);
      }
    }
  };
  walk('');
  const want = groups(expected);
  const have = groups(actual);
  return { hardlinkGroups: want.size, hardlinksKept: [...want].filter((g) => have.has(g)).length };
}

/** Where a tool put the restored copy of `work` under `target`: restic and borg keep the absolute path. */
function restoredRoot(target, work) {
  for (const candidate of [join(target, work), join(target, work.replace(/^\/+/, ''))]) if (existsSync(candidate)) return candidate;
  return target;
}

// ---- tools --------------------------------------------------------------------------------

// Each setup(dir, work) puts the tool's repository, cache and config under `dir` (the run's
// scratch directory) and backs up `work`.
const tools = {
  bkdr: {
    setup(dir, work) {
      const config = join(dir, 'backup.config.json');
      writeFileSync(
        config,
        JSON.stringify({
          sources: { bench: { type: 'files', paths: [work] } },
          destinations: [{ name: 'local', type: 'local', config: { path: join(dir, 'repo') } }],
          compression: { enabled: true, algorithm: 'lz4' },
          catalog: { path: join(dir, 'catalog.db') },
        }),
      );
      // Its key-slot hints in the run's directory, as restic's cache is: a bench of many runs
      // filled the user's own hints file (16 configs at most) with its temporary configs.
      const env = { ...process.env, BKDR_PASSWORD: password, NO_COLOR: '1', XDG_CACHE_HOME: join(dir, 'cache') };
      const bkdr = (...args) => [process.execPath, [...bkdrNodeFlags, join(root, 'bin/bkdr.js'), '-q', '-c', config, ...args], { env }];
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
    package: 'restic',
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
    package: 'borgbackup',
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

// ---- cases ------------------------------------------------------------------------------

// generate(dir) builds the dataset once per case. change(work), when present, turns it into
// generation 2 in place between the two backups, so each run needs its own copy; cases
// without it back up the generated directory itself (copying 4 GiB per tool and run would
// cost more than the backup) and their incremental has nothing to do.
// manyFiles: the case's directories (tens of thousands of files each) stay until the whole
// bench ends, with the scratch directory. ext4 skips inodes deleted in the last minutes when
// it allocates new ones, so a restore soon after such a deletion spent a third of its time in
// ext4_create's recently_deleted() (perf), and the same restore took 2.0 s or 2.9 s. For the
// same reason, start the bench a few minutes after deleting many files on its file system.
const cases = {
  mixed: {
    manyFiles: true,
    describe: () => `'mixed' (BENCH_SCALE=${scaleName}): ${scale.files} small files, ${scale.dumpMiB} MiB dump, ${scale.randomMiB} MiB random`,
    generate: (dir) => generate('mixed', dir, scaleName),
    change: (work) => applyGeneration2(work, scale),
    incremental: 'incremental backup',
  },
  'small-files': {
    manyFiles: true,
    describe: () => `'small-files': ${smallFiles} files of 1–8 KiB`,
    generate: (dir) => generate('small-files', dir, smallFiles),
    incremental: 'no-op incremental',
  },
  'large-file': {
    describe: () => `'large-file': one file of ${largeMiB} MiB`,
    generate: (dir) => generate('large-file', dir, largeMiB),
    incremental: 'no-op incremental',
    throughput: true,
  },
  // Real files from this machine (bench/real-tree.mjs): node_modules packages and /usr/share,
  // symlinks and hard links. Copied per run with `cp -a` (cpSync would make the hard links
  // separate files and, without verbatimSymlinks, rewrite relative symlinks); its restores
  // are compared file by file, not only by size.
  'real-tree': {
    manyFiles: true,
    stats: null,
    describe() {
      const s = this.stats;
      return `'real-tree' (BENCH_REAL_TREE_FILES=${realTreeFiles}): ${s.files} files, ${s.symlinks} symlinks, ${s.hardlinks} hard links, ${s.dirs} directories (${s.packages} node_modules packages; ${s.sources.filter((x) => !x.includes(' packages of ')).join(', ')})`;
    },
    async generate(dir) {
      const statsFile = `${dir}.json`;
      const bytes = await generate('real-tree', dir, realTreeFiles, [realTreeScript, 'build', dir, String(realTreeFiles), statsFile]);
      this.stats = JSON.parse(readFileSync(statsFile, 'utf8'));
      return bytes;
    },
    copy(from, to) {
      const r = spawnSync('cp', ['-a', from, to]);
      if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
    },
    change: (work) => log(`  generation 2: ${JSON.stringify(changeRealTree(work))}`),
    incremental: 'incremental backup',
    noop: true,
    strict: true,
  },
};

const caseNames = (process.env.BENCH_CASES || Object.keys(cases).join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const walSection = caseNames.includes('wal');
caseNames.splice(0, caseNames.length, ...caseNames.filter((n) => n !== 'wal'));
for (const name of caseNames) {
  if (!cases[name]) throw new Error(`BENCH_CASES: unknown case '${name}' (known: ${Object.keys(cases).join(', ')})`);
}

// ---- running ------------------------------------------------------------------------------

/** One run: init, first backup, (change), second backup, (no-op third backup), restore; every step must exit 0. */
async function runOnce(toolName, c, data, dataBytes, dir, progress) {
  const work = c.change ? join(dir, 'data') : data;
  if (c.copy) c.copy(data, work);
  else if (c.change) cpSync(data, work, { recursive: true, preserveTimestamps: true });
  const t = tools[toolName].setup(dir, work);
  if (t.init) await measure(...t.init);
  const step = async (label, cmd) => {
    // The previous step's dirty pages are written back first, not during this one's timing:
    // without it the same restore took 2.4 s in one run and 4.4 s in the next.
    spawnSync('sync');
    const r = await measure(...cmd);
    log(`${progress} ${label}: ${(r.ms / 1000).toFixed(2)} s, ${(r.rssKiB / 1024).toFixed(0)} MiB RSS`);
    return r;
  };
  const first = await step('first backup', t.backup());
  if (c.change) c.change(work);
  const incremental = await step(c.incremental, t.backup());
  const noop = c.noop ? await step('no-op incremental', t.backup()) : null;
  const repoBytes = du(t.repo);
  const target = join(dir, 'restore');
  mkdirSync(target);
  const restore = await step('full restore', t.restore(target));
  // A restore that exits 0 but writes too little would make the timing meaningless.
  const expected = c.change ? du(work) : dataBytes;
  const restored = du(target);
  if (restored !== expected) throw new Error(`${toolName} restored ${restored} bytes, the data holds ${expected}`);
  if (c.strict) {
    const { hardlinkGroups, hardlinksKept } = compareTrees(work, restoredRoot(target, work));
    log(`${progress} restore verified file by file (symlinks as symlinks); hard links kept: ${hardlinksKept}/${hardlinkGroups}`);
  }
  return { first, incremental, noop, restore, repoBytes };
}

function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One run of one tool, in a scratch directory deleted afterwards (kept for many-files cases: see `cases`). */
async function runInScratch(toolName, caseName, data, dataBytes, scratch, progress) {
  const c = cases[caseName];
  const dir = mkdtempSync(join(scratch, `${caseName}-${toolName}-`));
  try {
    return await runOnce(toolName, c, data, dataBytes, dir, progress);
  } finally {
    if (!c.manyFiles) rmSync(dir, { recursive: true, force: true });
  }
}

/** The median of every figure over a tool's runs. */
function figuresOf(c, samples, dataBytes) {
  const figures = {};
  for (const step of ['first', 'incremental', ...(c.noop ? ['noop'] : []), 'restore']) {
    figures[`${step}Ms`] = median(samples.map((s) => s[step].ms));
    figures[`${step}RssMiB`] = median(samples.map((s) => s[step].rssKiB)) / 1024;
  }
  const reads = samples.map((s) => s.incremental.readBytes);
  figures.incrementalReadMiB = reads.includes(null) ? null : median(reads) / 2 ** 20;
  if (c.noop) {
    const noopReads = samples.map((s) => s.noop.readBytes);
    figures.noopReadMiB = noopReads.includes(null) ? null : median(noopReads) / 2 ** 20;
  }
  figures.repoMiB = median(samples.map((s) => s.repoBytes)) / 2 ** 20;
  if (c.throughput) figures.firstMBps = dataBytes / 1e6 / (figures.firstMs / 1000);
  return figures;
}

function installedTools() {
  return Object.keys(tools).filter((name) => {
    if (!tools[name].available || tools[name].available()) return true;
    log(`${name}: not installed, skipped (apt-get install ${tools[name].package})`);
    return false;
  });
}

async function runCase(caseName, names, scratch) {
  const c = cases[caseName];
  const data = join(scratch, `data-${caseName}`);
  try {
    const dataBytes = await c.generate(data);
    // The tools take turns, one run each per round: this machine has slow spells of a minute
    // or more, and with each tool's runs in one block a spell skewed one tool's median alone
    // (bkdr's incremental read 0.90 s in one bench and 1.20 s in the next, restic's 1.8 s in both).
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    for (let i = 1; i <= runs; i++) {
      for (const name of names) samples[name].push(await runInScratch(name, caseName, data, dataBytes, scratch, `[${caseName}] ${name} run ${i}/${runs}`));
    }
    const results = Object.fromEntries(names.map((name) => [name, figuresOf(c, samples[name], dataBytes)]));
    return { dataset: c.describe(), dataBytes, results };
  } finally {
    if (!cases[caseName].manyFiles) rmSync(data, { recursive: true, force: true });
  }
}

/**
 * bkdr alone: first backups of flatCounts[0] and flatCounts[1] small files, `runs` of
 * each, alternating (each into a new repository), and the median of each. One run each
 * was at the mercy of one run's spread: the 1 M figure moved by 10 MiB from run to run.
 */
async function runFlat(scratch) {
  const datasets = [];
  try {
    for (const count of flatCounts) {
      const data = join(scratch, `flat-${count}`);
      datasets.push(data);
      await generate('small-files', data, count);
    }
    const samples = flatCounts.map(() => []);
    for (let i = 1; i <= runs; i++) {
      for (const [k, count] of flatCounts.entries()) {
        const dir = mkdtempSync(join(scratch, `flat-${count}-bkdr-`));
        try {
          const t = tools.bkdr.setup(dir, datasets[k]);
          log(`[flat] bkdr first backup of ${count} files, run ${i}/${runs}`);
          const r = await measure(...t.backup());
          log(`[flat] ${count} files: ${(r.ms / 1000).toFixed(1)} s, ${(r.rssKiB / 1024).toFixed(0)} MiB RSS`);
          samples[k].push(r);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    const medians = flatCounts.map((count, k) => ({
      files: count,
      ms: median(samples[k].map((r) => r.ms)),
      rssMiB: median(samples[k].map((r) => r.rssKiB / 1024)),
      rssMiBRuns: samples[k].map((r) => r.rssKiB / 1024),
    }));
    return { runs: medians, ratio: medians[1].rssMiB / medians[0].rssMiB };
  } finally {
    for (const data of datasets) rmSync(data, { recursive: true, force: true });
  }
}

/**
 * The wal section: `bkdr wal push` once per segment, sequentially, as PostgreSQL's
 * archive_command runs it, then `bkdr wal fetch` once per segment (restore_command), each
 * fetched file compared with the original; first synchronously (one whole bkdr per segment),
 * then with --async and a spool, as PostgreSQL would run them: the segments sit in a pg_wal
 * directory whose archive_status marks each one ready (a backlog, as after a burst of writes),
 * and a segment's mark turns to done when its push exits 0. The async figures include the
 * worker: its start, and every segment stored before the last command exits. bkdr alone, one pass.
 */
async function runWal(scratch) {
  const dir = mkdtempSync(join(scratch, 'wal-bkdr-'));
  const segments = join(dir, 'pg_wal');
  try {
    const dataBytes = await generate('wal', segments, walSegments);
    const names = Array.from({ length: walSegments }, (_, i) => walName(i + 1));
    const config = join(dir, 'backup.config.json');
    const env = { ...process.env, BKDR_PASSWORD: password, NO_COLOR: '1', XDG_CACHE_HOME: join(dir, 'cache') };
    const modes = {};
    for (const mode of ['sync', 'async']) {
      writeFileSync(
        config,
        JSON.stringify({
          sources: { database: { type: 'postgres', mode: 'physical' } },
          destinations: [{ name: 'local', type: 'local', config: { path: join(dir, `repo-${mode}`) } }],
          compression: { enabled: true, algorithm: 'lz4' },
          catalog: { path: join(dir, 'catalog.db') },
        }),
      );
      const spool = join(dir, `spool-${mode}`);
      const asyncArgs = mode === 'async' ? ['--async', '--spool', spool] : [];
      // Async as `wal archive-command` and `restore --at` set it up: native bkdr-wal per segment.
      const bkdr = (...args) =>
        mode === 'sync'
          ? measure(process.execPath, [...bkdrNodeFlags, join(root, 'bin/bkdr.js'), '-q', '-c', config, 'wal', ...args], { env })
          : measure(join(root, 'build/Release/bkdr-wal'), ['-q', '-c', config, 'wal', ...args], { env: { ...env, BKDR_NODE: process.execPath } });
      const status = join(segments, 'archive_status');
      mkdirSync(status, { recursive: true });
      for (const name of names) writeFileSync(join(status, `${name}.ready`), '');
      // `notBkdr()`: the milliseconds of the pass's clock spent on the bench's own checks, left out of its figures.
      const pass = async (label, one, notBkdr = () => 0) => {
        spawnSync('sync');
        const worker = watchWorkerRss(join(spool, label, 'worker.pid'));
        const started = Date.now();
        const per = [];
        for (let i = 0; i < names.length; i++) {
          per.push(await one(names[i]));
          if ((i + 1) % 50 === 0 || i + 1 === names.length) {
            const s = (Date.now() - started - notBkdr()) / 1000;
            log(`[wal ${mode}] ${label} ${i + 1}/${names.length}: ${s.toFixed(1)} s, ${((i + 1) / s).toFixed(2)} segments/s`);
          }
        }
        const ms = Date.now() - started - notBkdr();
        return {
          ms,
          segmentsPerS: names.length / (ms / 1000),
          MBps: dataBytes / 1e6 / (ms / 1000),
          medianProcessMs: median(per.map((r) => r.ms)),
          peakRssMiB: Math.max(...per.map((r) => r.rssKiB)) / 1024,
          workerPeakRssMiB: (await worker.stop()) / 1024,
        };
      };
      const push = await pass('push', async (name) => {
        const r = await bkdr('push', '--source', 'database', ...asyncArgs, join(segments, name));
        renameSync(join(status, `${name}.ready`), join(status, `${name}.done`));
        return r;
      });
      rmSync(status, { recursive: true, force: true });
      const repoBytes = du(join(dir, `repo-${mode}`));
      const fetched = join(dir, 'fetched');
      mkdirSync(fetched, { recursive: true });
      let verifyMs = 0;
      // The comparison runs inside the fetch pass's clock; it is not bkdr's time, in the progress lines either.
      const fetch = await pass(
        'fetch',
        async (name) => {
          const r = await bkdr('fetch', '--source', 'database', ...asyncArgs, name, join(fetched, name));
          const t = Date.now();
          if (!readFileSync(join(fetched, name)).equals(readFileSync(join(segments, name)))) throw new Error(`wal fetch ${name}: other bytes than were pushed`);
          rmSync(join(fetched, name));
          verifyMs += Date.now() - t;
          return r;
        },
        () => verifyMs,
      );
      await waitWorkersGone(spool);
      rmSync(join(dir, `repo-${mode}`), { recursive: true, force: true });
      modes[mode] = { repoBytes, push, fetch };
    }
    return { segments: names.length, dataBytes, ...modes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The peak RSS (KiB) of the spool's worker while a pass runs, from its pid file and /proc. */
function watchWorkerRss(pidFile) {
  let peak = 0;
  const sample = () => {
    try {
      const pid = readFileSync(pidFile, 'utf8').trim();
      const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]));
    } catch {
      // No worker (yet, or any more, or the synchronous mode).
    }
  };
  const timer = setInterval(sample, 50);
  return {
    stop: async () => {
      sample();
      clearInterval(timer);
      return peak;
    },
  };
}

/** Waits until the spool's workers have ended (they do, idle), so that nothing outlives the bench. */
async function waitWorkersGone(spool) {
  for (const kind of ['push', 'fetch']) {
    for (let i = 0; i < 300; i++) {
      let pid;
      try {
        pid = Number(readFileSync(join(spool, kind, 'worker.pid'), 'utf8'));
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function printWal(w) {
  console.log(
    `\nwal: ${w.segments} segments of ${WAL_SEGMENT_BYTES / 2 ** 20} MiB (${(w.dataBytes / 2 ** 20).toFixed(0)} MiB; ${(w.sync.repoBytes / 2 ** 20).toFixed(0)} MiB in the repository), one bkdr command per segment, sequential, as PostgreSQL runs them; one pass`,
  );
  printTable([
    ['figure', 'push', 'fetch', 'push --async', 'fetch --async'],
    ['segments/s', fmt(w.sync.push.segmentsPerS), fmt(w.sync.fetch.segmentsPerS), fmt(w.async.push.segmentsPerS), fmt(w.async.fetch.segmentsPerS)],
    ['MB/s', fmt(w.sync.push.MBps, 0), fmt(w.sync.fetch.MBps, 0), fmt(w.async.push.MBps, 0), fmt(w.async.fetch.MBps, 0)],
    ['total (s)', fmt(w.sync.push.ms / 1000, 1), fmt(w.sync.fetch.ms / 1000, 1), fmt(w.async.push.ms / 1000, 1), fmt(w.async.fetch.ms / 1000, 1)],
    ['median per command (ms)', fmt(w.sync.push.medianProcessMs, 0), fmt(w.sync.fetch.medianProcessMs, 0), fmt(w.async.push.medianProcessMs, 0), fmt(w.async.fetch.medianProcessMs, 0)],
    ['peak RSS of a command (MiB)', fmt(w.sync.push.peakRssMiB, 0), fmt(w.sync.fetch.peakRssMiB, 0), fmt(w.async.push.peakRssMiB, 0), fmt(w.async.fetch.peakRssMiB, 0)],
    ['peak RSS of the worker (MiB)', '', '', fmt(w.async.push.workerPeakRssMiB, 0), fmt(w.async.fetch.workerPeakRssMiB, 0)],
  ]);
}

// ---- report -------------------------------------------------------------------------------

function rowsFor(c) {
  return [
    ['first backup (s)', 'firstMs', 1000],
    ...(c.throughput ? [['first backup throughput (MB/s)', 'firstMBps', 1]] : []),
    ['first backup peak RSS (MiB)', 'firstRssMiB', 1],
    [`${c.incremental} (s)`, 'incrementalMs', 1000],
    [`${c.incremental} peak RSS (MiB)`, 'incrementalRssMiB', 1],
    [`${c.incremental} bytes read (MiB)`, 'incrementalReadMiB', 1],
    ...(c.noop
      ? [
          ['no-op incremental (s)', 'noopMs', 1000],
          ['no-op incremental peak RSS (MiB)', 'noopRssMiB', 1],
          ['no-op incremental bytes read (MiB)', 'noopReadMiB', 1],
        ]
      : []),
    ['full restore (s)', 'restoreMs', 1000],
    ['restore peak RSS (MiB)', 'restoreRssMiB', 1],
    ['repository size (MiB)', 'repoMiB', 1],
  ];
}

function printTable(lines) {
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  for (const l of lines)
    console.log(
      l
        .map((cell, i) => String(cell).padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

function fmt(x, digits = 2) {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

function printCase(caseName, { dataset, dataBytes, results }) {
  const names = Object.keys(results);
  const others = names.filter((n) => n !== 'bkdr');
  const header = ['figure', ...names, ...others.map((o) => `bkdr/${o}`)];
  const body = rowsFor(cases[caseName]).map(([label, key, div]) => [
    label,
    ...names.map((n) => fmt(results[n][key] === null ? null : results[n][key] / div)),
    ...others.map((o) => (results.bkdr[key] === null || results[o][key] === null ? '–' : fmt(results.bkdr[key] / results[o][key]))),
  ]);
  console.log(`\n${dataset}, ${(dataBytes / 2 ** 20).toFixed(0)} MiB in all; median of ${runs} run(s)`);
  printTable([header, ...body]);
}

const peakRss = (r) => Math.max(r.firstRssMiB, r.incrementalRssMiB, r.restoreRssMiB, r.noopRssMiB ?? 0);

/** A goal "bkdr's figure ≤ limit × other tool's figure" on one case. */
function ratioGoal(all, caseName, goal, other, figure, limit, unit) {
  const r = all[caseName]?.results;
  if (!r) return { goal, status: 'not measured', detail: `the ${caseName} case was not run` };
  if (!r[other]) return { goal, status: 'not measured', detail: `${other} is not installed` };
  const [mine, theirs] = [figure(r.bkdr), figure(r[other])];
  const ratio = mine / theirs;
  return {
    goal,
    status: ratio <= limit ? 'met' : 'not met',
    detail: `bkdr ${fmt(mine)} ${unit}, ${other} ${fmt(theirs)} ${unit}: ${fmt(ratio)}× (goal ≤ ${limit}×)`,
  };
}

function walGoal(walResult, op) {
  const goal = `wal ${op} --async: ${walSegments} segments at ≥ 20 segments/s`;
  if (!walResult) return { goal, status: 'not measured', detail: 'add wal to BENCH_CASES' };
  const rate = walResult.async[op].segmentsPerS;
  return { goal, status: rate >= 20 ? 'met' : 'not met', detail: `${fmt(rate)} segments/s (synchronous: ${fmt(walResult.sync[op].segmentsPerS)})` };
}

function goals(all, flatResult, walResult) {
  const large = all['large-file']?.results?.bkdr;
  return [
    ratioGoal(all, 'mixed', 'first backup ≤ 0.5× restic (mixed)', 'restic', (r) => r.firstMs / 1000, 0.5, 's'),
    ratioGoal(all, 'mixed', 'incremental backup ≤ 0.5× restic (mixed)', 'restic', (r) => r.incrementalMs / 1000, 0.5, 's'),
    ratioGoal(all, 'mixed', 'full restore ≤ 0.7× restic (mixed)', 'restic', (r) => r.restoreMs / 1000, 0.7, 's'),
    ratioGoal(all, 'real-tree', 'first backup ≤ 0.5× restic (real-tree)', 'restic', (r) => r.firstMs / 1000, 0.5, 's'),
    ratioGoal(all, 'real-tree', 'incremental backup ≤ 0.5× restic (real-tree)', 'restic', (r) => r.incrementalMs / 1000, 0.5, 's'),
    ratioGoal(all, 'real-tree', 'no-op incremental ≤ 0.5× restic (real-tree)', 'restic', (r) => r.noopMs / 1000, 0.5, 's'),
    ratioGoal(all, 'real-tree', 'full restore ≤ 0.7× restic (real-tree)', 'restic', (r) => r.restoreMs / 1000, 0.7, 's'),
    ...['mixed', 'real-tree', 'small-files', 'large-file'].map((c) => ratioGoal(all, c, `peak RSS ≤ restic's (${c}, max over its steps)`, 'restic', peakRss, 1, 'MiB')),
    ratioGoal(all, 'mixed', "repository size ≤ borg's (mixed, borg with lz4)", 'borg', (r) => r.repoMiB, 1, 'MiB'),
    large
      ? {
          goal: 'single large file ≥ 300 MB/s first backup',
          status: large.firstMBps >= 300 ? 'met' : 'not met',
          detail: `${fmt(large.firstMBps, 0)} MB/s (${largeMiB} MiB in ${fmt(large.firstMs / 1000)} s)`,
        }
      : { goal: 'single large file ≥ 300 MB/s first backup', status: 'not measured', detail: 'the large-file case was not run' },
    flatResult
      ? {
          goal: `flat RSS: ${flatCounts[1]} small files ≤ 1.5× the RSS of ${flatCounts[0]}`,
          status: flatResult.ratio <= 1.5 ? 'met' : 'not met',
          detail: `${fmt(flatResult.runs[0].rssMiB, 0)} MiB → ${fmt(flatResult.runs[1].rssMiB, 0)} MiB: ${fmt(flatResult.ratio)}× (goal ≤ 1.5×)`,
        }
      : { goal: 'flat RSS: 1 M small files ≤ 1.5× the RSS of 100 k', status: 'not measured', detail: 'set BENCH_FLAT=1 (slow)' },
    walGoal(walResult, 'push'),
    walGoal(walResult, 'fetch'),
  ];
}

function printGoals(list) {
  console.log('\nGoals');
  printTable(list.map((g) => [g.status, g.goal, g.detail]));
}

// ---- main -----------------------------------------------------------------------------------

const scratch = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'bkdr-bench-'));

// Ctrl-C or kill: stop the running child, then remove the scratch directory (GiBs of data
// and repositories) before exiting.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: stopping, removing ${scratch}`);
    const done = () => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    };
    if (current) {
      current.once('exit', done);
      current.kill('SIGTERM');
    } else done();
  });
}

try {
  const names = installedTools();
  const all = {};
  for (const caseName of caseNames) {
    all[caseName] = await runCase(caseName, names, scratch);
    printCase(caseName, all[caseName]);
  }
  let walResult = null;
  if (walSection) {
    walResult = await runWal(scratch);
    printWal(walResult);
  }
  let flatResult = null;
  if (flat) {
    flatResult = await runFlat(scratch);
    console.log(`\nflat RSS, bkdr first backup (medians of ${runs} alternating runs)`);
    printTable([
      ['files', 'first backup (s)', 'peak RSS (MiB)', 'each run (MiB)'],
      ...flatResult.runs.map((r) => [String(r.files), fmt(r.ms / 1000), fmt(r.rssMiB), r.rssMiBRuns.map((x) => fmt(x, 0)).join(' ')]),
    ]);
  }
  const goalList = goals(all, flatResult, walResult);
  printGoals(goalList);
  if (process.env.BENCH_JSON) {
    writeFileSync(process.env.BENCH_JSON, JSON.stringify({ runs, scale: scaleName, cases: all, wal: walResult, flat: flatResult, goals: goalList }, null, 2));
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
