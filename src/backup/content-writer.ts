import type { Chunk } from '../repo/blob-codec.js';
import { chunkContent, type ReadInto } from '../repo/content-chunker.js';
import type { Repository } from '../repo/repository.js';

/** What content writing needs of a repository (one, or a fan-out to several). */
export type ContentTarget = Pick<Repository, 'chunker' | 'hasBlob' | 'saveBlob'>;

export interface ContentResult {
  /** Blob ids of the content, in order. */
  ids: string[];
  bytes: number;
  newBlobs: number;
  addedBytes: number;
}

/**
 * Chunks being compressed and sealed at once for one stream of content. With the next
 * read and the cut of the one after, this keeps the libuv pool (and so every core) busy
 * on a single large file; memory stays bounded by it and the repository's pack limit.
 */
const SAVES_IN_FLIGHT = 4;

/**
 * Chunks, hashes and stores one stream of content (a file's reads, a command's
 * output): the next buffer is read while this one is cut, and new chunks are sealed
 * concurrently. `onChunk` sees every chunk (for progress and abort checks).
 */
export async function writeContent(read: ReadInto, repo: ContentTarget, onChunk?: (length: number) => void): Promise<ContentResult> {
  const result: ContentResult = { ids: [], bytes: 0, newBlobs: 0, addedBytes: 0 };
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  // Set from callbacks, which TypeScript's narrowing does not see: read it through a function.
  const failed = () => failure;

  const store = async (chunk: Chunk): Promise<Promise<void> | undefined> => {
    // Checked first: once a destination failed, reading on (a dump of many GiB) is work for nothing.
    const early = failed();
    if (early) throw early.error;
    onChunk?.(chunk.data.length);
    result.ids.push(chunk.id);
    result.bytes += chunk.data.length;
    if (repo.hasBlob(chunk.id)) return undefined;
    const saving: Promise<void> = repo
      .saveBlob('data', chunk.id, chunk.data)
      .then(
        (saved) => {
          if (saved.stored) {
            result.newBlobs++;
            result.addedBytes += saved.storedSize;
          }
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => inFlight.delete(saving));
    inFlight.add(saving);
    while (inFlight.size >= SAVES_IN_FLIGHT) await Promise.race(inFlight);
    const late = failed();
    if (late) throw late.error;
    return saving;
  };

  try {
    for await (const batch of aheadByOne(chunkContent(read, repo.chunker()))) {
      const saves: Promise<void>[] = [];
      try {
        for (const chunk of batch.chunks) {
          const saving = await store(chunk);
          if (saving) saves.push(saving);
        }
      } finally {
        // The batch's buffer is reused once every save reading from it has settled (saves never reject).
        void Promise.all(saves).then(() => batch.release());
      }
    }
  } finally {
    // Nothing may still be writing when the caller moves on, whether this failed or not.
    await Promise.all(inFlight);
  }
  const final = failed();
  if (final) throw final.error;
  return result;
}

/**
 * The items of `source`, with the next one asked for as soon as one is handed out: the
 * next read is cut while this one's chunks are sealed.
 */
async function* aheadByOne<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = source.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = source.next();
      yield current.value;
    }
  } finally {
    // Stopped early: the source's cleanup (closing the file) runs once its step in flight settles.
    await next.catch(() => undefined);
    await source.return(undefined);
  }
}

/** Stores content that is one chunk (below the chunker's minimum, already hashed) without the stream machinery. */
export async function writeSingleChunk(id: string, data: Buffer, repo: ContentTarget): Promise<ContentResult> {
  const saved = repo.hasBlob(id) ? { stored: false, storedSize: 0 } : await repo.saveBlob('data', id, data);
  return { ids: [id], bytes: data.length, newBlobs: saved.stored ? 1 : 0, addedBytes: saved.storedSize };
}
