import { loadNativeAddon } from '../core/native-addon.js';

/** Blob ids are SHA-256: 32 bytes, 64 hex digits. */
export const ID_BYTES = 32;
/** Numbers per blob in ScannedIndexFile.fields: pack (into packIds), offset, stored length, plaintext length, type (1 tree, 0 data). */
export const BLOB_FIELDS = 5;

/** An index file's blobs in the form BlobIndex keeps them: binary ids side by side, and BLOB_FIELDS numbers each. */
export interface ScannedIndexFile {
  packIds: string[];
  count: number;
  ids: Buffer;
  fields: Uint32Array;
}

interface IndexScanAddon {
  scanIndex(metadata: Buffer): [Buffer, Uint32Array, string[]] | null;
}

/**
 * Reads an index file's JSON, gzipped or not (as metadata-codec stores it), straight into
 * a ScannedIndexFile (native/index_scan.c). Undefined when it is not in the form bkdr
 * writes: the caller then decodes it with decodeMetadata, which decides what any other
 * text (or damaged gzip) means.
 */
export function scanIndexFile(metadata: Buffer): ScannedIndexFile | undefined {
  const addon = loadNativeAddon<Partial<IndexScanAddon>>('bkdr_blob');
  // An addon built before the scanner (a stale build/) leaves every file to JSON.parse.
  const scanned = addon.scanIndex?.(metadata);
  if (!scanned) return undefined;
  const [ids, fields, packIds] = scanned;
  return { packIds, count: ids.length / ID_BYTES, ids, fields };
}
