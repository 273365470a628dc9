import { IntegrityError } from '../core/errors.js';
import { sha256Hex } from '../core/ids.js';
import type { StorageAdapter } from '../storage/adapter.js';
import type { BlobIndex } from './blob-index.js';
import type { Envelope } from './envelope.js';
import { scanIndexFile } from './index-file-scan.js';
import { IndexFilesAhead } from './index-files-ahead.js';
import { decodeMetadata } from './metadata-codec.js';
import type { PackHeaderEntry } from './pack.js';

/**
 * Reading the index files `index/<id>` (id: the hash of the stored bytes), each a sealed
 * list of packs and their blobs (JSON, gzipped in format 2): into the in-memory index
 * when a repository opens, or as stored, for prune and checks.
 */

export interface IndexedPack {
  id: string;
  size: number;
  blobs: PackHeaderEntry[];
}

/** An index file's content, before sealing. */
export interface IndexFile {
  version: 1;
  packs: IndexedPack[];
}

/** How index files are opened, and what becomes of a damaged one. */
export interface IndexReading {
  /** The destination's name, for messages. */
  destination: string;
  envelope: Envelope;
  /** Skip a damaged index file, listed in `damaged`, instead of failing. */
  tolerateDamaged: boolean;
  damaged: { id: string; problem: string }[];
}

/** Adds the blobs every index file names to `index`. */
export async function loadIndex(indexFiles: IndexFilesAhead, index: BlobIndex, reading: IndexReading): Promise<void> {
  await eachIndexFile(indexFiles, reading, (id, metadata, what) => {
    // The form bkdr writes is scanned straight into the index; any other goes through JSON.parse.
    const scanned = scanIndexFile(metadata);
    if (scanned) {
      index.addScanned(scanned);
      return;
    }
    for (const pack of (decodeMetadata(metadata, what) as IndexFile).packs) {
      for (const e of pack.blobs) index.add({ id: e.id, packId: pack.id, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
  });
}

/** Every index file as stored, for prune (which rewrites them) and checks. */
export async function readIndexFiles(adapter: StorageAdapter, reading: IndexReading): Promise<{ id: string; packs: IndexedPack[] }[]> {
  const files: { id: string; packs: IndexedPack[] }[] = [];
  await eachIndexFile(await IndexFilesAhead.list(adapter, false), reading, (id, metadata, what) => {
    files.push({ id, packs: (decodeMetadata(metadata, what) as IndexFile).packs });
  });
  return files;
}

/**
 * Checks and opens each index file, and hands its metadata (JSON, gzipped in format 2)
 * to `use`. A damaged one (or one `use` finds damaged) fails the whole, or with
 * `tolerateDamaged` is skipped and listed in `damaged`; `use` must then take all of a
 * file or nothing.
 */
async function eachIndexFile(indexFiles: IndexFilesAhead, reading: IndexReading, use: (id: string, metadata: Buffer, what: string) => void): Promise<void> {
  for (const [i, key] of indexFiles.keys.entries()) {
    const id = key.slice('index/'.length);
    // The envelope names the destination itself.
    const name = `index file ${id.slice(0, 12)}`;
    const what = `${name} on ${reading.destination}`;
    try {
      const stored = await indexFiles.take(i);
      if (sha256Hex(stored) !== id) throw new IntegrityError(`${what} is damaged (hash mismatch)`);
      use(id, reading.envelope.open(stored, name), what);
    } catch (err) {
      if (!reading.tolerateDamaged || !(err instanceof IntegrityError || err instanceof SyntaxError)) throw err;
      if (!reading.damaged.some((d) => d.id === id)) reading.damaged.push({ id, problem: err.message });
    }
  }
}
