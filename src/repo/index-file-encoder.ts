import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';

/**
 * The plaintext of an index file, built as packs are stored: each pack's entry is added
 * when its upload ends (its blobs already serialized for the pack header) and, in format
 * 2, gzipped on the thread pool meanwhile, so the end of a backup only closes the stream.
 * Serialized and gzipped whole at the end, the index of 20 000 new files held the main
 * thread 0.1 s after everything else was done. The bytes decode as encodeMetadata's do.
 */
export class IndexFileEncoder {
  readonly #gzip: Gzip | undefined;
  readonly #out: Buffer[] = [];
  #plain = '';
  #packs = 0;
  #blobs = 0;
  #bytes = 0;
  #error: Error | undefined;

  constructor(gzip: boolean) {
    if (gzip) {
      // Large output pieces: each is a trip to the pool, and at 16 KiB a pack of small files took dozens.
      this.#gzip = createGzip({ level: 1, chunkSize: 256 * 1024 });
      this.#gzip.on('data', (chunk: Buffer) => this.#out.push(chunk));
      // Reported by finish(): an 'error' event with no listener would end the process.
      this.#gzip.on('error', (err) => (this.#error ??= err));
    }
    this.#write('{"version":1,"packs":[');
  }

  /** What the index file names so far: packs, their blobs, and their stored bytes. */
  get named(): { packs: number; blobs: number; storedBytes: number } {
    return { packs: this.#packs, blobs: this.#blobs, storedBytes: this.#bytes };
  }

  /** `blobsJson`: the JSON of the pack's `blobs` entries, as in its header. */
  add(pack: { id: string; size: number; blobs: number }, blobsJson: string): void {
    this.#write(`${this.#packs++ === 0 ? '' : ','}{"id":${JSON.stringify(pack.id)},"size":${pack.size},"blobs":${blobsJson}}`);
    this.#blobs += pack.blobs;
    this.#bytes += pack.size;
  }

  async finish(): Promise<Buffer> {
    this.#write(']}');
    if (!this.#gzip) return Buffer.from(this.#plain);
    if (this.#error) throw this.#error;
    const ended = once(this.#gzip, 'end');
    this.#gzip.end();
    await ended;
    return this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
  }

  #write(json: string): void {
    if (this.#gzip) this.#gzip.write(json);
    else this.#plain += json;
  }
}
