import { userInfo } from 'node:os';
import { InterruptedError } from '../core/errors.js';
import { streamReader } from '../repo/content-chunker.js';
import type { TreeNode } from '../repo/tree-node.js';
import type { StreamCapture } from '../sources/stream-source.js';
import { writeContent } from './content-writer.js';
import type { ArchiveProgress, ArchiveResult, ArchiveTarget } from './files-archiver.js';

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
  let lastProgress = 0;
  let bytes = 0;
  const written = await writeContent(streamReader(capture.stream as AsyncIterable<Buffer>), repo, (length) => {
    if (opts.signal?.aborted) throw new InterruptedError('backup interrupted');
    bytes += length;
    if (Date.now() - lastProgress > 200) {
      lastProgress = Date.now();
      opts.onProgress?.({ files: 0, dirs: 0, bytes, bytesRead: bytes, currentPath: capture.name });
    }
  });
  const content = written.ids;
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
  return { tree, warnings: 0, files: 1, dirs: 0, bytes, newFiles: 1, changedFiles: 0, unchangedFiles: 0, dataBlobs: content.length, newDataBlobs: written.newBlobs, addedBytes: written.addedBytes };
}
