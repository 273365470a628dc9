import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { InterruptedError } from '../core/errors.js';
import { chunkStream } from '../repo/fastcdc.js';
import type { TreeNode } from '../repo/tree-node.js';
import type { StreamCapture } from '../sources/stream-source.js';
import type { ArchiveProgress, ArchiveResult, ArchiveTarget } from './files-archiver.js';

/** Pipes deliver 64 KiB at a time; the chunker copies its carry-over once per input, so it gets bigger ones. */
const COALESCE_BYTES = 4 * 1024 * 1024;

async function* coalesce(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const part of source) {
    parts.push(part);
    length += part.length;
    if (length >= size) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/**
 * Stores a stream source's capture as a snapshot holding one file: read once, cut
 * into content-defined chunks (so the unchanged parts of a dump deduplicate against
 * the last one), never written to a temporary file. Memory stays bounded by the
 * repository's pending-pack limit whatever the stream's size.
 */
export async function archiveStream(opts: {
  repo: ArchiveTarget;
  capture: StreamCapture;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: ArchiveProgress) => void) | undefined;
}): Promise<ArchiveResult> {
  const { repo, capture } = opts;
  const content: string[] = [];
  let bytes = 0;
  let newDataBlobs = 0;
  let addedBytes = 0;
  let lastProgress = 0;
  for await (const chunk of chunkStream(coalesce(capture.stream as AsyncIterable<Buffer>, COALESCE_BYTES), repo.chunker())) {
    if (opts.signal?.aborted) throw new InterruptedError('backup interrupted');
    const id = createHash('sha256').update(chunk).digest('hex');
    content.push(id);
    bytes += chunk.length;
    if (!repo.hasBlob(id)) {
      const saved = await repo.saveBlob('data', id, chunk);
      if (saved.stored) {
        newDataBlobs++;
        addedBytes += saved.storedSize;
      }
    }
    if (Date.now() - lastProgress > 200) {
      lastProgress = Date.now();
      opts.onProgress?.({ files: 0, dirs: 0, bytes, bytesRead: bytes, currentPath: capture.name });
    }
  }
  // Only a producer that ended cleanly makes a backup: a dump cut short raises here.
  await capture.finished;
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const user = userInfo();
  const node: TreeNode = {
    name: Buffer.from(capture.name),
    type: 'file',
    mode: 0o600,
    uid: user.uid,
    gid: user.gid,
    mtimeNs: nowNs,
    atimeNs: nowNs,
    ctimeNs: nowNs,
    dev: 0n,
    inode: 0n,
    nlink: 1,
    size: bytes,
    content,
  };
  const tree = await repo.saveTree([node]);
  opts.onProgress?.({ files: 1, dirs: 0, bytes, bytesRead: bytes, currentPath: capture.name });
  return { tree, warnings: 0, files: 1, dirs: 0, bytes, newFiles: 1, changedFiles: 0, unchangedFiles: 0, dataBlobs: content.length, newDataBlobs, addedBytes };
}
