import { loadNativeAddon } from '../core/native-addon.js';
import { systemError } from '../core/system-error.js';

/** A file of AppendedFile's, as the addon hands it out (an external). */
declare const nativeFile: unique symbol;
type NativeAppendedFile = { readonly [nativeFile]: true };

interface DirectIoAddon {
  writeObject(path: Buffer, data: Buffer, direct: boolean): Promise<[Buffer, Float64Array]>;
  appendedFile(path: Buffer): NativeAppendedFile;
  /** Resolves [the SHA-256 when final and done, else empty; [errno, step, bytes written, O_DIRECT used]]. */
  appendFile(file: NativeAppendedFile, data: Buffer, final: boolean): Promise<[Buffer, Float64Array]>;
  closeAppendedFile(file: NativeAppendedFile): void;
}

/**
 * Objects from this size on are written with O_DIRECT (when their buffer is aligned):
 * below it, the device's synchronous write costs more than the page-cache copy it saves.
 */
const DIRECT_FROM = 1024 * 1024;
const STEPS = ['open', 'write', 'fsync', 'close'];

const addon = (): DirectIoAddon => loadNativeAddon<DirectIoAddon>('bkdr_blob');

/**
 * Creates `path` (never over an existing file, never through a link) holding `data`, and
 * syncs it, in one trip to the pool. Large data from `alignedBuffer` (core/aligned-buffer.ts)
 * skips the page cache (native/bkdr_blob.c run_write_object says why). Resolves whether it did.
 */
export async function writeNewFileDurably(path: string, data: Buffer): Promise<{ direct: boolean }> {
  const pathBytes = Buffer.from(path);
  const [, result] = await addon().writeObject(pathBytes, data, data.length >= DIRECT_FROM);
  if (result[0]) throw systemError(result[0], STEPS[result[1]!] ?? 'write', pathBytes);
  return { direct: result[2] === 1 };
}

/**
 * A new file written in appends on the pool (O_DIRECT for aligned data), made durable when
 * finished, with the SHA-256 of its bytes. For a pack written as it fills: with `alignedBuffer`
 * data its whole 4096-byte blocks skip the page cache, as writeNewFileDurably's do. One call at
 * a time: each append must be awaited before the next (a second one at once rejects with EBUSY),
 * and `data` must stay unchanged until it resolves. After a failure the file is left as it is:
 * the caller closes and removes it. One that is never finished nor closed is closed when garbage collected.
 */
export class AppendedFile {
  #size = 0;

  private constructor(
    private readonly pathBytes: Buffer,
    private readonly file: NativeAppendedFile,
  ) {}

  /** No I/O yet: the file is created (never over an existing one, never through a link, mode 0600) by the first append. */
  static create(path: string): AppendedFile {
    const pathBytes = Buffer.from(path);
    return new AppendedFile(pathBytes, addon().appendedFile(pathBytes));
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Writes from the front of `data`: all of it, or, with O_DIRECT, its largest 4096-byte multiple
   * (maybe 0). Resolves the bytes written; the caller keeps the rest for the next call. Rejects
   * with a system error (code like 'EEXIST', syscall 'open' | 'write'; EBADF once finished or closed).
   */
  async append(data: Buffer): Promise<number> {
    return (await this.#write(data, false)).written;
  }

  /**
   * Writes all of `tail`, fsyncs and closes. Resolves the SHA-256 (hex) and the size of all the
   * file's bytes. Rejects with a system error (syscall 'open' | 'write' | 'fsync' | 'close').
   */
  async finish(tail: Buffer): Promise<{ sha256: string; size: number }> {
    const { digest } = await this.#write(tail, true);
    return { sha256: digest.toString('hex'), size: this.#size };
  }

  /** Closes the file when open (after an append still running on it); idempotent; does not remove it. */
  close(): void {
    addon().closeAppendedFile(this.file);
  }

  async #write(data: Buffer, final: boolean): Promise<{ digest: Buffer; written: number }> {
    const [digest, result] = await addon().appendFile(this.file, data, final);
    // Counted also when the call failed after writing some: the size stays the file's.
    const written = result[2]!;
    this.#size += written;
    if (result[0]) throw systemError(result[0], STEPS[result[1]!] ?? 'write', this.pathBytes);
    return { digest, written };
  }
}
