// The `real-tree` bench case: a directory tree of real files, built from what is already on
// the machine, so that the bench also sees real file sizes, real directory depth, symlinks
// and hard links rather than only generated text.
//
// Generation 1 (`node bench/real-tree.mjs build <dir> [files]`), about `files` entries
// (regular files and symlinks; default 50 000):
//   node_modules/  whole packages of the repository's own node_modules, in sorted order
//                  (scoped ones as @scope/name), nested node_modules included, until 60 % of
//                  `files`;
//   share/<path>/  /usr/share/zoneinfo, man/man2, man3, man5, man7, man8, doc, locale and
//                  man/man1, in that order and each in sorted order, until `files` (a
//                  directory that is missing is skipped with a note);
// symlinks are copied as symlinks (their target text, never followed), sockets, fifos and
// devices are skipped, mtimes are kept, and then every 50th regular file (sorted walk) gets
// a hard link beside it (`<name>~hardlink`).
// Generation 2 (`node bench/real-tree.mjs change <dir>`, or changeRealTree()), applied in
// place, a function of the tree alone (xorshift32, seed 2026, over the sorted walk): ~3 % of
// the regular files get a slice in the middle rewritten with PRNG bytes (a quarter of them
// also grow by up to 4 KiB), ~1 % are copied under a new name into a PRNG-picked existing
// directory, ~1 % are removed, and ~5 % are read (a day's use: their atimes move, as their
// ctimes, from the copy or the build, are newer; the walk moves every directory's).
import {
  closeSync,
  copyFileSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
  existsSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { xorshift32 } from './dataset.mjs';

export const REAL_TREE_DEFAULT_FILES = 50_000;
const NODE_MODULES_SHARE = 0.6;
// man2–man8 before doc and locale, man1 (18 000 pages here) last: the sections with the most
// symlinks (man3 has more links than pages) come in before the cap.
const SHARE_DIRS = ['zoneinfo', 'man/man2', 'man/man3', 'man/man5', 'man/man7', 'man/man8', 'doc', 'locale', 'man/man1'].map((d) => `/usr/share/${d}`);
const HARDLINK_EVERY = 50;
const CHANGED_MTIME = new Date('2026-06-01T00:00:00Z');

const sorted = (dir) => readdirSync(dir).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Copies src to dst, entries in sorted order, until stats.entries reaches `limit`; returns false when it stopped early. */
function copyTree(src, dst, stats, limit) {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
    lutimesSync(dst, st.atime, st.mtime);
    stats.symlinks++;
    stats.entries++;
    return true;
  }
  if (st.isFile()) {
    try {
      copyFileSync(src, dst);
    } catch (err) {
      stats.skipped++;
      if (err.code === 'EACCES' || err.code === 'EPERM') return true;
      throw err;
    }
    utimesSync(dst, st.atime, st.mtime);
    stats.files++;
    stats.bytes += st.size;
    stats.entries++;
    return true;
  }
  if (!st.isDirectory()) {
    stats.skipped++; // socket, fifo, device
    return true;
  }
  mkdirSync(dst);
  stats.dirs++;
  let names;
  try {
    names = sorted(src);
  } catch {
    names = [];
  }
  let complete = true;
  for (const name of names) {
    if (stats.entries >= limit) {
      complete = false;
      break;
    }
    if (!copyTree(join(src, name), join(dst, name), stats, limit)) {
      complete = false;
      break;
    }
  }
  utimesSync(dst, st.atime, st.mtime);
  return complete;
}

/** Top-level package directories of a node_modules, sorted, scoped ones as @scope/name. */
function packages(nodeModules) {
  const out = [];
  for (const name of sorted(nodeModules)) {
    const p = join(nodeModules, name);
    if (name.startsWith('@') && lstatSync(p).isDirectory()) for (const sub of sorted(p)) out.push(`${name}/${sub}`);
    else out.push(name);
  }
  return out;
}

/** Every path under dir, sorted walk, with its lstat. */
function* walk(dir) {
  for (const name of sorted(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    yield [p, st];
    if (st.isDirectory()) yield* walk(p);
  }
}

export function buildRealTree(
  dir,
  files = REAL_TREE_DEFAULT_FILES,
  { nodeModules = resolve(new URL('../node_modules', import.meta.url).pathname), shareDirs = SHARE_DIRS, log = (l) => process.stderr.write(`${l}\n`) } = {},
) {
  const stats = { entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, skipped: 0, packages: 0, sources: [] };
  mkdirSync(dir, { recursive: true });
  const nmLimit = Math.round(files * NODE_MODULES_SHARE);
  if (existsSync(nodeModules)) {
    const real = realpathSync(nodeModules);
    mkdirSync(join(dir, 'node_modules'));
    for (const pkg of packages(real)) {
      if (stats.entries >= nmLimit) break;
      if (pkg.includes('/')) mkdirSync(join(dir, 'node_modules', pkg.split('/')[0]), { recursive: true });
      copyTree(join(real, pkg), join(dir, 'node_modules', pkg), stats, Infinity);
      stats.packages++;
    }
    stats.sources.push(`${stats.packages} packages of ${real} (${stats.entries} entries)`);
  } else log(`real-tree: ${nodeModules} is missing, skipped`);
  mkdirSync(join(dir, 'share'));
  for (const src of shareDirs) {
    if (stats.entries >= files) break;
    if (!existsSync(src)) {
      log(`real-tree: ${src} is missing, skipped`);
      continue;
    }
    const before = stats.entries;
    const dst = join(dir, 'share', relative('/usr/share', src));
    mkdirSync(dirname(dst), { recursive: true });
    const complete = copyTree(src, dst, stats, files);
    stats.sources.push(`${src}${complete ? '' : ' (capped)'} (${stats.entries - before} entries)`);
  }
  let n = 0;
  const regular = [];
  for (const [p, st] of walk(dir)) if (st.isFile()) regular.push(p);
  for (const p of regular) {
    if (n++ % HARDLINK_EVERY !== 0) continue;
    linkSync(p, `${p}~hardlink`);
    stats.hardlinks++;
  }
  return stats;
}

/** Generation 2, in place; returns what it did. */
export function changeRealTree(dir, seed = 2026) {
  const rand = xorshift32(seed);
  const regular = [];
  const dirs = [];
  for (const [p, st] of walk(dir)) {
    if (st.isFile()) regular.push([p, st.size]);
    else if (st.isDirectory()) dirs.push(p);
  }
  const done = { modified: 0, grown: 0, added: 0, removed: 0, read: 0 };
  const noise = Buffer.alloc(64 * 1024 + 4096);
  const fillNoise = (n) => {
    for (let i = 0; i + 4 <= n + 3; i += 4) noise.writeUInt32LE(rand.next(), i);
    return noise.subarray(0, n);
  };
  for (const [p, size] of regular) {
    const pick = rand.next() % 1000;
    if (pick < 30) {
      if (!existsSync(p)) continue;
      const len = Math.min(64 * 1024, Math.max(1, Math.floor(size / 8)));
      const offset = Math.max(0, Math.floor((size - len) / 2));
      const grow = rand.next() % 4 === 0 ? 1 + (rand.next() % 4096) : 0;
      const fd = openSync(p, 'r+');
      try {
        writeSync(fd, fillNoise(len), 0, len, offset);
        if (grow) writeSync(fd, fillNoise(grow), 0, grow, Math.max(size, offset + len));
      } finally {
        closeSync(fd);
      }
      utimesSync(p, CHANGED_MTIME, CHANGED_MTIME);
      done.modified++;
      if (grow) done.grown++;
    } else if (pick < 40) {
      const into = dirs[rand.next() % dirs.length];
      const target = join(into, `added-${done.added}-${basename(p)}`);
      copyFileSync(p, target);
      utimesSync(target, CHANGED_MTIME, CHANGED_MTIME);
      done.added++;
    } else if (pick < 50) {
      rmSync(p);
      done.removed++;
    } else if (pick < 100 && existsSync(p)) {
      // Read, not changed: only its atime moves.
      readFileSync(p);
      done.read++;
    }
  }
  return done;
}

// `node bench/real-tree.mjs build <dir> [files] [stats.json]` or `node bench/real-tree.mjs change <dir>`
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const [cmd, dir, param, statsFile] = process.argv.slice(2);
  if (cmd === 'build' && dir) {
    const stats = buildRealTree(dir, Number(param ?? REAL_TREE_DEFAULT_FILES));
    if (statsFile) writeFileSync(statsFile, JSON.stringify(stats));
    else console.log(JSON.stringify(stats, null, 2));
  } else if (cmd === 'change' && dir) console.log(JSON.stringify(changeRealTree(dir)));
  else {
    console.error('usage: node bench/real-tree.mjs build <dir> [files] [stats.json] | change <dir>');
    process.exit(2);
  }
}
