// Deterministic benchmark dataset: anyone can rebuild the same bytes to reproduce figures.
// Generation 1: many small text files, a large SQL-like dump, incompressible data.
// Generation 2 (applied in place): 1% of dump lines changed, 200 files added and 200
// removed, 500 files touched (mtime only).
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, rmSync, utimesSync, existsSync } from 'node:fs';
import { join } from 'node:path';

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

const WORDS = 'alpha beta gamma delta epsilon backup restore snapshot chunk pack index tree blob repository destination source schedule retention verify prune policy encrypt compress server client database table row column value null true false select insert update delete where order group limit offset'.split(' ');

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

/** The dump's lines are a pure function of their number; `changedEvery` > 0 rewrites every Nth line. */
function writeDump(path, mib, changedEvery) {
  const fd = openSync(path, 'w');
  const target = mib * 1024 * 1024;
  let written = 0;
  let line = 0;
  let chunk = '';
  while (written < target) {
    const changed = changedEvery > 0 && line % changedEvery === 0;
    const row = `INSERT INTO orders (id, customer, amount, status, note) VALUES (${line}, 'customer-${(line * 7919) % 100_003}', ${((line * 31) % 100_000) / 100}, '${changed ? 'refunded' : 'paid'}', '${WORDS[line % WORDS.length]} ${WORDS[(line * 3) % WORDS.length]}');\n`;
    chunk += row;
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
    const victim = join(dir, 'small', `d${String(Math.floor(i * 7 / 200)).padStart(3, '0')}`, `f${String(i * 7).padStart(6, '0')}.txt`);
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
