import { open, stat } from 'node:fs/promises';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sleep } from './abortable-sleep.js';
import type { LogTrigger, Detector, Firing } from './detector.js';
import { expandLogGlob } from './log-files.js';

export const LOG_POLL_MS = 250;
/** Read at most this much of one file per poll, so one flooded log does not starve the others. */
const READ_CHUNK = 1024 * 1024;
/** A "line" longer than this without a newline is cut and matched as it is: a binary file must not grow the buffer forever. */
const MAX_LINE = 64 * 1024;

interface TailedFile {
  dev: number;
  ino: number;
  offset: number;
  /** Bytes after the last newline: a line still being written, possibly cut inside a UTF-8 character. */
  partial: Buffer;
}

/**
 * A log trigger: tails every file the globs name, from the END of files that exist when
 * it starts (old lines never fire) and from the start of files that appear later. A file
 * renamed away and recreated (new inode) or truncated (smaller than what was read) is
 * reread from 0: that is rotation. Polls with stat every 250 ms, which works on every file
 * system and through rotation where inotify does not; the price is that lines written to
 * the old file between the last poll and the rename are not read, nor is a truncation the
 * file outgrew within one poll. Each complete new line is matched against the condition;
 * `count` matches (default 1) within `within` (default: any time) fire, and then the
 * count starts over.
 */
export class LogDetector implements Detector {
  private readonly pattern: RegExp;

  constructor(
    readonly scenarioId: string,
    readonly trigger: string,
    private readonly t: LogTrigger,
    private readonly globs: readonly string[],
    private readonly baseDir: string,
    private readonly log: Logger,
    private readonly pollMs = LOG_POLL_MS,
    where = 'trigger',
  ) {
    try {
      this.pattern = new RegExp(t.condition);
    } catch (err) {
      throw new ConfigError(`${where}.condition`, `not a regular expression: ${(err as Error).message}`, { cause: err });
    }
  }

  private primed: Map<string, TailedFile> | undefined;

  /** Reads where every existing file ends now: lines written after this fire, even before `run` starts. */
  async prime(): Promise<void> {
    const files = new Map<string, TailedFile>();
    await this.poll(files, true, () => undefined);
    this.primed = files;
  }

  async run(fire: (f: Firing) => void, signal: AbortSignal): Promise<void> {
    const files = this.primed ?? new Map<string, TailedFile>();
    const count = this.t.count ?? 1;
    let matches: { at: Date; line: string; path: string }[] = [];
    let first = this.primed === undefined;
    const onLine = (path: string, line: string) => {
      if (!this.pattern.test(line)) return;
      const now = new Date();
      matches.push({ at: now, line, path });
      if (this.t.within !== undefined) matches = matches.filter((m) => now.getTime() - m.at.getTime() <= this.t.within!);
      if (matches.length < count) return;
      const firstMatch = matches[0]!;
      matches = [];
      fire({ trigger: this.trigger, at: now, failureAt: firstMatch.at, detail: `${firstMatch.path}: ${line.slice(0, 500)}` });
    };
    while (!signal.aborted) {
      await this.poll(files, first, onLine);
      first = false;
      await sleep(this.pollMs, signal);
    }
  }

  private async poll(files: Map<string, TailedFile>, first: boolean, onLine: (path: string, line: string) => void): Promise<void> {
    const present = new Set<string>();
    for (const glob of this.globs) for (const path of await expandLogGlob(glob, this.baseDir)) present.add(path);
    for (const path of files.keys()) if (!present.has(path)) files.delete(path);
    for (const path of present) {
      let st;
      try {
        st = await stat(path);
      } catch {
        files.delete(path);
        continue;
      }
      if (!st.isFile()) continue;
      let f = files.get(path);
      if (!f) {
        f = { dev: st.dev, ino: st.ino, offset: first ? st.size : 0, partial: Buffer.alloc(0) };
        files.set(path, f);
      } else if (f.ino !== st.ino || f.dev !== st.dev || st.size < f.offset) {
        this.log.debug(`log ${path} was rotated or truncated; reading it from the start`);
        Object.assign(f, { dev: st.dev, ino: st.ino, offset: 0, partial: Buffer.alloc(0) });
      }
      if (st.size > f.offset) await this.readNew(path, f, st.size, onLine);
    }
  }

  private async readNew(path: string, f: TailedFile, size: number, onLine: (path: string, line: string) => void): Promise<void> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      this.log.warn(`cannot read log ${path}: ${(err as Error).message}`);
      return;
    }
    try {
      const length = Math.min(size - f.offset, READ_CHUNK);
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, f.offset);
      f.offset += bytesRead;
      const data = Buffer.concat([f.partial, buf.subarray(0, bytesRead)]);
      const end = data.lastIndexOf(0x0a) + 1;
      f.partial = data.subarray(end);
      const lines = data.subarray(0, end).toString('utf8').split('\n').slice(0, -1);
      if (f.partial.length > MAX_LINE) {
        lines.push(f.partial.toString('utf8'));
        f.partial = Buffer.alloc(0);
      }
      for (const line of lines) onLine(path, line.endsWith('\r') ? line.slice(0, -1) : line);
    } finally {
      await handle.close();
    }
  }
}
