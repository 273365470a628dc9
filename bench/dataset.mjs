// Deterministic benchmark datasets: anyone can rebuild the same bytes to reproduce figures
// (`node bench/dataset.mjs <case> <dir>`, see the end of this file).
// mixed, generation 1: many small text files, a large SQL-like dump, incompressible data.
// mixed, generation 2 (applied in place): 1% of dump lines changed, 200 files added and 200
// removed, 500 files touched (mtime only).
// small-files: N text files of 1–8 KiB, 200 to a directory.
// large-file: one file of N MiB, alternating MiBs of dump lines and PRNG bytes, never repeating.
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, rmSync, utimesSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { endianness } from 'node:os';

/** xorshift128+: fast, seedable, the same everywhere. */
export function prng(seed) {
  let s0 = BigInt(seed) | 1n;
  let s1 = (BigInt(seed) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= (x << 23n) & 0xffffffffffffffffn;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((s1 + y) & 0xffffffffffffffffn) >> 11n) / 2 ** 53;
  };
}

const WORDS =
  'alpha beta gamma delta epsilon backup restore snapshot chunk pack index tree blob repository destination source schedule retention verify prune policy encrypt compress server client database table row column value null true false select insert update delete where order group limit offset'.split(
    ' ',
  );

function text(rand, bytes) {
  let out = '';
  while (out.length < bytes) out += `${WORDS[Math.floor(rand() * WORDS.length)]}${rand() < 0.1 ? '\n' : ' '}`;
  return out.slice(0, bytes);
}

export const scales = {
  // files of 1–8 KiB, dump MiB, random MiB
  small: { files: 5_000, dumpMiB: 32, randomMiB: 16 },
  default: { files: 20_000, dumpMiB: 128, randomMiB: 64 },
  large: { files: 46_000, dumpMiB: 256, randomMiB: 64 },
};

const FIXED_MTIME = new Date('2026-01-01T00:00:00Z');

export function generateGeneration1(dir, scale) {
  const rand = prng(42);
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < scale.files; i++) {
    const sub = join(dir, 'small', `d${String(Math.floor(i / 200)).padStart(3, '0')}`);
    if (i % 200 === 0) mkdirSync(sub, { recursive: true });
    const file = join(sub, `f${String(i).padStart(6, '0')}.txt`);
    writeFileSync(file, text(rand, 1024 + Math.floor(rand() * 7 * 1024)));
    utimesSync(file, FIXED_MTIME, FIXED_MTIME);
  }
  writeDump(join(dir, 'dump.sql'), scale.dumpMiB, 0);
  const fd = openSync(join(dir, 'random.bin'), 'w');
  const r = prng(7);
  const buf = Buffer.alloc(1 << 20);
  for (let m = 0; m < scale.randomMiB; m++) {
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
    writeSync(fd, buf);
  }
  closeSync(fd);
}

function dumpRow(line, changed) {
  return `INSERT INTO orders (id, customer, amount, status, note) VALUES (${line}, 'customer-${(line * 7919) % 100_003}', ${((line * 31) % 100_000) / 100}, '${changed ? 'refunded' : 'paid'}', '${WORDS[line % WORDS.length]} ${WORDS[(line * 3) % WORDS.length]}');\n`;
}

/** The dump's lines are a pure function of their number; `changedEvery` > 0 rewrites every Nth line. */
function writeDump(path, mib, changedEvery) {
  const fd = openSync(path, 'w');
  const target = mib * 1024 * 1024;
  let written = 0;
  let line = 0;
  let chunk = '';
  while (written < target) {
    chunk += dumpRow(line, changedEvery > 0 && line % changedEvery === 0);
    line++;
    if (chunk.length >= 1 << 20) {
      writeSync(fd, chunk);
      written += Buffer.byteLength(chunk);
      chunk = '';
    }
  }
  if (chunk) writeSync(fd, chunk);
  closeSync(fd);
}

export function applyGeneration2(dir, scale) {
  const rand = prng(4242);
  writeDump(join(dir, 'dump.sql'), scale.dumpMiB, 100);
  for (let i = 0; i < 200; i++) {
    const victim = join(dir, 'small', `d${String(Math.floor((i * 7) / 200)).padStart(3, '0')}`, `f${String(i * 7).padStart(6, '0')}.txt`);
    if (existsSync(victim)) rmSync(victim);
  }
  mkdirSync(join(dir, 'added'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'added', `n${i}.txt`), text(rand, 2048 + Math.floor(rand() * 4096)));
  const touched = new Date('2026-06-01T00:00:00Z');
  for (let i = 0; i < 500; i++) {
    const n = scale.files - 1 - i * 3;
    const f = join(dir, 'small', `d${String(Math.floor(n / 200)).padStart(3, '0')}`, `f${String(n).padStart(6, '0')}.txt`);
    if (existsSync(f)) utimesSync(f, touched, touched);
  }
}

// ---- small-files and large-file cases -------------------------------------------------
// These hold up to GiBs, so they use a 32-bit xorshift on plain numbers: the BigInt
// xorshift128+ above runs at a few MB/s, this one fills ~1 GB/s.

/** xorshift32 (Marsaglia): `next()` gives a uint32, `fill()` a Uint32Array. */
export function xorshift32(seed) {
  let s = seed >>> 0 || 1;
  return {
    next() {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    },
    fill(u32) {
      let x = s;
      for (let i = 0; i < u32.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        u32[i] = x;
      }
      s = x;
    },
  };
}

/** Like text() (same words, a newline after ~1 word in 10), one PRNG step per word. */
function fastText(rand, bytes) {
  let out = '';
  while (out.length < bytes) {
    const r = rand.next();
    out += `${WORDS[r % WORDS.length]}${(r >>> 16) % 10 === 0 ? '\n' : ' '}`;
  }
  return out.slice(0, bytes);
}

export const SMALL_FILES_PER_DIR = 200;

/** `count` text files of 1–8 KiB, 200 to a directory, all with the same fixed mtime. */
export function generateSmallFiles(dir, count, seed = 1234) {
  const rand = xorshift32(seed);
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${String(Math.floor(i / SMALL_FILES_PER_DIR)).padStart(5, '0')}`);
    if (i % SMALL_FILES_PER_DIR === 0) mkdirSync(sub, { recursive: true });
    const file = join(sub, `f${String(i).padStart(7, '0')}.txt`);
    writeFileSync(file, fastText(rand, 1024 + (rand.next() % (7 * 1024))));
    utimesSync(file, FIXED_MTIME, FIXED_MTIME);
  }
}

const MiB = 1 << 20;
// The pattern is written over and over. Its period must exceed every tool's largest chunk
// (8 MiB in bkdr, restic and borg's defaults) so that no compressor sees it.
const PATTERN_MIB = 64;
// Every STAMP_EVERY bytes the file's own offset is written in, so each chunk (at least
// 512 KiB in bkdr, restic and borg) holds stamps found nowhere else: no chunk deduplicates
// against an earlier pass of the pattern, whatever the cut points.
const STAMP_EVERY = 4096;
const STAMP_BYTES = 16;

/** 64 MiB alternating 1 MiB of dump lines (compress well) and 1 MiB of PRNG bytes (not at all). */
function largeFilePattern(seed) {
  const pattern = Buffer.alloc(PATTERN_MIB * MiB);
  const rand = xorshift32(seed);
  let line = 0;
  for (let m = 0; m < PATTERN_MIB; m++) {
    const slice = pattern.subarray(m * MiB, (m + 1) * MiB);
    if (m % 2 === 1) {
      rand.fill(new Uint32Array(slice.buffer, slice.byteOffset, MiB / 4));
      // Uint32Array writes in the machine's byte order; pin little-endian for equal bytes everywhere.
      if (endianness() === 'BE') slice.swap32();
      continue;
    }
    let rows = '';
    while (rows.length < MiB) rows += dumpRow(line++, false);
    slice.write(rows, 0, MiB, 'latin1');
  }
  return pattern;
}

/** Writes `#` and the 15-hex-digit file offset every STAMP_EVERY bytes of pattern[0, n). */
function stampOffsets(pattern, fileOffset, n) {
  for (let p = 0; p + STAMP_BYTES <= n; p += STAMP_EVERY) {
    pattern.write(`#${(fileOffset + p).toString(16).padStart(STAMP_BYTES - 1, '0')}`, p, STAMP_BYTES, 'latin1');
  }
}

/** One file of `mib` MiB, content never repeating (see STAMP_EVERY), ~half of it compressible. */
export function generateLargeFile(path, mib, seed = 99) {
  const pattern = largeFilePattern(seed);
  const total = mib * MiB;
  const fd = openSync(path, 'w');
  try {
    for (let offset = 0; offset < total; offset += pattern.length) {
      const n = Math.min(pattern.length, total - offset);
      stampOffsets(pattern, offset, n);
      for (let done = 0; done < n;) done += writeSync(fd, pattern, done, n - done);
    }
  } finally {
    closeSync(fd);
  }
  utimesSync(path, FIXED_MTIME, FIXED_MTIME);
}

// ---- wal section ------------------------------------------------------------------------
// WAL-like segments: 16 MiB of 8 KiB pages, each with a page header (magic, timeline, its
// own address) and then records: a 24-byte header (length, xid, previous record's LSN,
// PRNG CRC), a block reference and a row like the dump's, some with PRNG bytes (full-page
// images, TOAST) — repeated structure with noise, so lz4 finds what it finds in real WAL.
// Every 10th segment ends early (archive_timeout), the rest of it zeros, as PostgreSQL leaves it.

export const WAL_SEGMENT_BYTES = 16 * MiB;
const WAL_PAGE = 8192;

/** PostgreSQL's name of segment `n` (1-based here) on timeline 1: 000000010000000000000001 … */
export function walName(n) {
  const hex = (x) => x.toString(16).toUpperCase().padStart(8, '0');
  return `00000001${hex(Math.floor(n / 256))}${hex(n % 256)}`;
}

export function generateWalSegment(n, rand) {
  const seg = Buffer.alloc(WAL_SEGMENT_BYTES);
  const base = n * WAL_SEGMENT_BYTES;
  const used = n % 10 === 0 ? Math.floor(WAL_SEGMENT_BYTES * (0.1 + (rand.next() % 60) / 100)) : WAL_SEGMENT_BYTES;
  const noise = new Uint32Array(2048);
  let line = n * 100_000;
  let prev = base;
  for (let page = 0; page * WAL_PAGE < used; page++) {
    const p = page * WAL_PAGE;
    seg.writeUInt16LE(0xd113, p); // xlp_magic
    seg.writeUInt16LE(page === 0 ? 0x0002 : 0x0001, p + 2); // xlp_info
    seg.writeUInt32LE(1, p + 4); // xlp_tli
    seg.writeBigUInt64LE(BigInt(base + p), p + 8); // xlp_pageaddr
    let o = p + (page === 0 ? 40 : 24);
    const end = Math.min(p + WAL_PAGE, used);
    while (o + 64 < end) {
      const r = rand.next();
      const row = dumpRow(line++, (r & 7) === 0);
      const extra = (r >>> 8) % 16 === 0 ? 256 + ((r >>> 12) % 1024) : (r >>> 8) % 4 === 0 ? 16 : 0;
      const len = Math.min(24 + 20 + row.length + extra, end - o);
      seg.writeUInt32LE(len, o); // xl_tot_len
      seg.writeUInt32LE(1000 + Math.floor(line / 8), o + 4); // xl_xid
      seg.writeBigUInt64LE(BigInt(prev), o + 8); // xl_prev
      seg[o + 16] = 0x10; // xl_info
      seg[o + 17] = 10; // xl_rmid: heap
      seg.writeUInt32LE(rand.next(), o + 20); // xl_crc
      seg.writeUInt32LE(1663, o + 24); // block reference: tablespace, database, relation, block
      seg.writeUInt32LE(16384, o + 28);
      seg.writeUInt32LE(16385 + (line % 7), o + 32);
      seg.writeUInt32LE(Math.floor(line / 60), o + 36);
      seg.writeUInt32LE(line, o + 40);
      let w = o + 44;
      w += seg.write(row, w, Math.max(0, o + len - w), 'latin1');
      if (w < o + len) {
        rand.fill(noise);
        w += Buffer.from(noise.buffer).copy(seg, w, 0, o + len - w);
      }
      prev = base + o;
      o = (o + len + 7) & ~7; // MAXALIGN
    }
  }
  return seg;
}

/** `count` segments 000000010000000000000001 … in dir. */
export function generateWal(dir, count, seed = 16) {
  mkdirSync(dir, { recursive: true });
  const rand = xorshift32(seed);
  for (let n = 1; n <= count; n++) writeFileSync(join(dir, walName(n)), generateWalSegment(n, rand));
}

// `node bench/dataset.mjs <case> <dir> [param]` builds one dataset without running anything:
//   mixed <dir> [small|default|large]    small-files <dir> [count]    large-file <dir> [MiB]
//   wal <dir> [segments]
if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const [kind, dir, param] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node bench/dataset.mjs mixed|small-files|large-file|wal <dir> [scale|count|MiB|segments]');
    process.exit(2);
  }
  if (kind === 'mixed') {
    if (!scales[param ?? 'default']) throw new Error(`scale must be one of ${Object.keys(scales).join(', ')}`);
    generateGeneration1(dir, scales[param ?? 'default']);
  } else if (kind === 'small-files') generateSmallFiles(dir, Number(param ?? 200_000));
  else if (kind === 'large-file') {
    mkdirSync(dir, { recursive: true });
    generateLargeFile(join(dir, 'large.bin'), Number(param ?? 4096));
  } else if (kind === 'wal') generateWal(dir, Number(param ?? 200));
  else {
    console.error(`unknown dataset '${kind}'`);
    process.exit(2);
  }
}
