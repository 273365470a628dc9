// The vendored liblz4 (native/vendor/lz4, in the bkdr_blob addon) against the npm package
// lz4-napi, on the blobs a backup makes and in the shape the engine calls LZ4 (docs/compression.md).
//
//   LZ4_NAPI=<dir> node bench/lz4-compare.mjs [dir ...]
//
// LZ4_NAPI        lz4-napi's package directory (…/node_modules/lz4-napi); without it the script
//                 says so and exits 0, so bkdr never depends on the package
// dir ...         what to read (default: the mixed dataset, `node bench/dataset.mjs mixed <dir> small`,
//                 looked for in $TMPDIR/lz4-mixed); files under the chunker's minimum are one blob each,
//                 larger files are cut by the repository's chunker (FastCDC, 512 KiB–1 MiB–8 MiB)
// LZ4_RUNS=N      rounds, each both libraries in alternating order (default 5); medians are printed
// LZ4_MAX_MIB=N   stop reading after N MiB (default 256)
// LZ4_JSON=<file> also write every figure as JSON
//
// Instruction counts (repeatable on a busy machine), with valgrind's callgrind:
//   LZ4_NAPI=<dir> node bench/lz4-compare.mjs --write-sample <file> [dir ...]   (a 8 MiB sample, LZ4_SAMPLE_MIB)
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//     node bench/lz4-compare.mjs --count <none|vendored|napi>-<compress|decompress> <file>
// and subtract the `none-…` total from the others (it loads the sample and does the same loop without LZ4).
// Decompression decodes the vendored library's output in both cases (the format is the same).
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(new URL('..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const addon = require(join(root, 'build/Release/bkdr_blob.node'));

const args = process.argv.slice(2);

// ---- instruction-count mode: no chunker, no timing, just the loop ----------------------
if (args[0] === '--count') {
  const [, mode, file] = args;
  const [lib, op] = mode.split('-');
  const napi = lib === 'napi' ? loadNapi() : undefined;
  const blobs = readSample(file);
  const inputs = op === 'decompress' ? blobs.map((b) => addon.lz4(b, true, true, null)) : blobs;
  // Compressing for `decompress` costs the same in all three modes, so it cancels out.
  let total = 0;
  for (const input of inputs) {
    if (lib === 'none') total += input.length;
    else if (lib === 'vendored') total += addon.lz4(input, op === 'compress', true, null).length;
    else total += (op === 'compress' ? napi.compressSync(input) : napi.uncompressSync(input)).length;
  }
  console.log(`${mode}: ${blobs.length} blobs, ${total} bytes out`);
  process.exit(0);
}

function loadNapi() {
  const dir = process.env.LZ4_NAPI;
  if (!dir || !existsSync(dir)) return undefined;
  return require(resolve(dir));
}

function readSample(file) {
  const data = readFileSync(file);
  const blobs = [];
  for (let pos = 0; pos < data.length;) {
    const n = data.readUInt32LE(pos);
    blobs.push(data.subarray(pos + 4, pos + 4 + n));
    pos += 4 + n;
  }
  return blobs;
}

const napi = loadNapi();
if (!napi) {
  console.log('lz4-napi not found: set LZ4_NAPI to its package directory (e.g. install it into a scratch directory with `npm install lz4-napi`). Nothing measured.');
  process.exit(0);
}

const { FastCdc, DEFAULT_CHUNKER } = await import(join(root, 'dist/repo/fastcdc.js'));
const { chunkContent } = await import(join(root, 'dist/repo/content-chunker.js'));

// As the engine runs (src/backup/files-archiver.ts, content-writer.ts, src/repo/blob-codec.ts).
const SMALL_BATCH_FILES = 64;
const SMALL_BATCH_BYTES = 1024 * 1024;
const SMALL_BATCHES_IN_FLIGHT = 4;
const SAVES_IN_FLIGHT = 4;

const runs = Number(process.env.LZ4_RUNS || 5);
const maxBytes = Number(process.env.LZ4_MAX_MIB || 256) * 1024 * 1024;
const writeSampleTo = args[0] === '--write-sample' ? args[1] : undefined;
const dirs = (writeSampleTo ? args.slice(2) : args).map((d) => resolve(d));
if (dirs.length === 0) {
  const fallback = join(tmpdir(), 'lz4-mixed');
  if (!existsSync(fallback)) {
    console.error(`no directory given and ${fallback} is missing: node bench/dataset.mjs mixed ${fallback} small`);
    process.exit(2);
  }
  dirs.push(fallback);
}

// ---- the blobs -----------------------------------------------------------------------
const chunker = new FastCdc({ ...DEFAULT_CHUNKER, seed: '00'.repeat(32) });
const small = []; // batches of whole small files
const chunks = []; // chunks of large files
let bytes = 0;
let batch = [];
let batchBytes = 0;

function* walk(dir) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) yield* walk(path);
    else if (st.isFile() && st.size > 0) yield { path, size: st.size };
  }
}

function flushBatch() {
  if (batch.length > 0) small.push(batch);
  batch = [];
  batchBytes = 0;
}

for (const dir of dirs) {
  for (const { path, size } of walk(dir)) {
    if (bytes >= maxBytes) break;
    let fd;
    try {
      fd = openSync(path, 'r');
    } catch {
      continue;
    }
    try {
      if (size < DEFAULT_CHUNKER.minSize) {
        const data = Buffer.alloc(size);
        const n = readSync(fd, data, 0, size, 0);
        if (batch.length >= SMALL_BATCH_FILES || batchBytes + n > SMALL_BATCH_BYTES) flushBatch();
        batch.push(data.subarray(0, n));
        batchBytes += n;
        bytes += n;
      } else {
        let position = 0;
        const read = async (buf, offset, length) => {
          const n = readSync(fd, buf, offset, length, position);
          position += n;
          return n;
        };
        // The chunker's buffers are reused: keep copies.
        for await (const { chunks: cut } of chunkContent(read, chunker)) for (const c of cut) chunks.push(Buffer.from(c.data));
        bytes += position;
      }
    } finally {
      closeSync(fd);
    }
  }
}
flushBatch();
const smallBlobs = small.flat();
const sum = (list) => list.reduce((a, b) => a + b.length, 0);
const smallBytes = sum(smallBlobs);
const chunkBytes = sum(chunks);

if (writeSampleTo) {
  // Every kth blob of each kind, about LZ4_SAMPLE_MIB in all, half small files and half chunks.
  const budget = Number(process.env.LZ4_SAMPLE_MIB || 8) * 1024 * 1024;
  const pick = (list, total, share) => list.filter((_, i) => i % Math.max(1, Math.round(total / (budget * share))) === 0);
  const sample = [...pick(smallBlobs, smallBytes, 0.5), ...pick(chunks, chunkBytes, 0.5)];
  const out = [];
  for (const b of sample) {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    out.push(n, b);
  }
  writeFileSync(writeSampleTo, Buffer.concat(out));
  console.log(`sample: ${sample.length} blobs, ${(sum(sample) / 2 ** 20).toFixed(1)} MiB → ${writeSampleTo}`);
  process.exit(0);
}

// ---- the two libraries, called as the engine calls LZ4 -----------------------------------
async function limited(items, inFlight, fn) {
  let next = 0;
  const results = new Array(items.length);
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
  return results;
}

// Compressed forms for decompression, and the sizes for the ratio: plain LZ4 of every blob.
const vendoredSmall = smallBlobs.map((b) => addon.lz4(b, true, true, null));
const napiSmall = smallBlobs.map((b) => napi.compressSync(b));
const vendoredChunks = await limited(chunks, SAVES_IN_FLIGHT, (c) => addon.lz4(c, true, false, null));
const napiChunks = await limited(chunks, SAVES_IN_FLIGHT, (c) => napi.compress(c));
for (const [i, b] of smallBlobs.entries()) {
  if (!addon.lz4(napiSmall[i], false, true, null).equals(b) || !napi.uncompressSync(vendoredSmall[i]).equals(b)) throw new Error('the libraries do not read each other');
}
const recordsRoom = Math.max(1, ...small.map((b) => sum(b) + b.length * 64)) * 2;

const cases = {
  // Large files' chunks: one piece of pool work per chunk, 4 per stream in flight (saveBlob → seal).
  'chunks compress (pool, 4 in flight)': {
    bytes: chunkBytes,
    vendored: () => limited(chunks, SAVES_IN_FLIGHT, (c) => addon.lz4(c, true, false, null)),
    napi: () => limited(chunks, SAVES_IN_FLIGHT, (c) => napi.compress(c)),
  },
  'chunks decompress (pool, 4 in flight)': {
    bytes: chunkBytes,
    vendored: () => limited(vendoredChunks, SAVES_IN_FLIGHT, (c) => addon.lz4(c, false, false, null)),
    napi: () => limited(napiChunks, SAVES_IN_FLIGHT, (c) => napi.uncompress(c)),
  },
  // Small files: bkdr seals a batch (64 files / 1 MiB) in one piece of pool work (sealMany, here
  // unencrypted, so LZ4 and a copy); lz4-napi has no batch call, so one pool hop per file.
  'small files compress (batches, 4 in flight)': {
    bytes: smallBytes,
    vendored: () => {
      const rooms = Array.from({ length: SMALL_BATCHES_IN_FLIGHT }, () => Buffer.allocUnsafe(recordsRoom));
      return limited(small, SMALL_BATCHES_IN_FLIGHT, async (b) => {
        const room = rooms.pop();
        try {
          return await addon.sealMany(b, null, true, room);
        } finally {
          rooms.push(room);
        }
      });
    },
    napi: () => limited(small, SMALL_BATCHES_IN_FLIGHT, (b) => Promise.all(b.map((d) => napi.compress(d)))),
  },
  // The same blobs one call each on the JavaScript thread: the two LZ4 implementations with the least around them.
  'small files compress (sync)': {
    bytes: smallBytes,
    vendored: () => smallBlobs.map((b) => addon.lz4(b, true, true, null)),
    napi: () => smallBlobs.map((b) => napi.compressSync(b)),
  },
  'small files decompress (sync)': {
    bytes: smallBytes,
    vendored: () => vendoredSmall.map((b) => addon.lz4(b, false, true, null)),
    napi: () => napiSmall.map((b) => napi.uncompressSync(b)),
  },
};

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`input: ${dirs.join(', ')}`);
console.log(`  ${chunks.length} chunks, ${(chunkBytes / 2 ** 20).toFixed(1)} MiB; ${smallBlobs.length} small files in ${small.length} batches, ${(smallBytes / 2 ** 20).toFixed(1)} MiB`);
const ratio = (out, inp) => sum(out) / sum(inp);
const ratios = {
  chunks: { vendored: ratio(vendoredChunks, chunks), napi: ratio(napiChunks, chunks) },
  small: { vendored: ratio(vendoredSmall, smallBlobs), napi: ratio(napiSmall, smallBlobs) },
};
console.log(
  `  compressed/raw: chunks vendored ${ratios.chunks.vendored.toFixed(4)} lz4-napi ${ratios.chunks.napi.toFixed(4)}; small files vendored ${ratios.small.vendored.toFixed(4)} lz4-napi ${ratios.small.napi.toFixed(4)}`,
);
console.log(`  load before: ${load()}; ${runs} rounds, each alternating which library goes first`);

const times = Object.fromEntries(Object.keys(cases).map((k) => [k, { vendored: [], napi: [] }]));
for (let r = 0; r < runs; r++) {
  const order = r % 2 === 0 ? ['vendored', 'napi'] : ['napi', 'vendored'];
  for (const [name, c] of Object.entries(cases)) {
    if (c.bytes === 0) continue;
    for (const lib of order) {
      const t0 = performance.now();
      await c[lib]();
      times[name][lib].push(performance.now() - t0);
    }
  }
}
console.log(`  load after: ${load()}`);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mbps = (b, ms) => b / 1e6 / (ms / 1000);
const figures = {};
console.log("\nMB/s of uncompressed data, median (min–max) over the rounds; lz4-napi against vendored: median of the rounds' paired ratios");
for (const [name, c] of Object.entries(cases)) {
  if (c.bytes === 0) continue;
  const f = {};
  for (const lib of ['vendored', 'napi']) {
    const ts = times[name][lib];
    f[lib] = { median: mbps(c.bytes, median(ts)), min: mbps(c.bytes, Math.max(...ts)), max: mbps(c.bytes, Math.min(...ts)) };
  }
  // Each round's two runs side by side (same load): the median of their ratios, and in how many rounds lz4-napi was slower.
  const paired = times[name].vendored.map((v, r) => v / times[name].napi[r]);
  const delta = (median(paired) - 1) * 100;
  const slower = paired.filter((x) => x < 1).length;
  figures[name] = { ...f, pairedDeltaPercent: delta, napiSlowerRounds: slower, rounds: runs };
  const show = (x) => `${x.median.toFixed(0)} (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;
  console.log(`  ${name.padEnd(44)} vendored ${show(f.vendored).padEnd(20)} lz4-napi ${show(f.napi).padEnd(20)} ${delta >= 0 ? '+' : ''}${delta.toFixed(1)} %, slower in ${slower}/${runs}`);
}
if (process.env.LZ4_JSON) writeFileSync(process.env.LZ4_JSON, JSON.stringify({ dirs, chunks: chunks.length, chunkBytes, smallFiles: smallBlobs.length, smallBytes, ratios, figures }, null, 2));
