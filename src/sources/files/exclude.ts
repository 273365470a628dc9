import picomatch from 'picomatch';
import { sha256Hex } from '../../core/ids.js';

/**
 * bkdr's own files (repositories, the catalog; backup/own-files.ts), which a walk never
 * archives, asked with paths in the latin1 form ExcludeRules matches (one char per byte).
 */
export interface OwnPaths {
  /** Whether `path` is one of them or lies inside one. */
  containsLatin1(path: string): boolean;
  /** Whether one of them is `dir`, lies inside it, or holds it: only then may an entry of `dir` be one. */
  withinLatin1(dir: string): boolean;
}

interface IgnoreRule {
  match: (path: string) => boolean;
  negate: boolean;
  dirOnly: boolean;
}

/**
 * Decides which paths a files source skips: the config's `exclude` globs (matched
 * against the absolute path and the path relative to each configured root) and
 * `.bkdrignore` files (a gitignore-like subset: `#` comments, `!` negation, a
 * leading `/` anchors to the file's directory, a trailing `/` matches directories
 * only). Later rules win, and a deeper .bkdrignore overrides a shallower one.
 */
export class ExcludeRules {
  private constructor(
    private readonly roots: string[],
    private readonly globs: ((path: string) => boolean) | undefined,
    private readonly rules: IgnoreRule[],
    private readonly own: OwnPaths | undefined,
    /** Names these rules (SHA-256 hex of the config's and of each .bkdrignore's), `own` aside: the same key, the same decisions. */
    readonly key: string,
  ) {}

  /**
   * `own`: bkdr's own files (repositories, the catalog), excluded whatever the rules say, a `!` in
   * .bkdrignore included.
   */
  static fromConfig(roots: string[], patterns: string[], own?: OwnPaths): ExcludeRules {
    const globs = patterns.length > 0 ? picomatch(patterns, { dot: true }) : undefined;
    const trimmed = roots.map((r) => r.replace(/\/+$/, '') || '/');
    return new ExcludeRules(trimmed, globs, [], own, sha256Hex(JSON.stringify([trimmed, patterns])));
  }

  /** A child scope with the rules of a `.bkdrignore` found in `dir`. */
  withIgnoreFile(dir: Buffer, content: string): ExcludeRules {
    const base = dir.toString('latin1').replace(/\/+$/, '');
    const added: IgnoreRule[] = [];
    for (const raw of content.split(/\r?\n/)) {
      let line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const negate = line.startsWith('!');
      if (negate) line = line.slice(1);
      const dirOnly = line.endsWith('/');
      if (dirOnly) line = line.replace(/\/+$/, '');
      const anchored = line.startsWith('/') || line.includes('/');
      const pattern = anchored ? `${base}/${line.replace(/^\//, '')}` : `${base}/**/${line}`;
      const matcher = picomatch(pattern, { dot: true });
      added.push({ match: matcher, negate, dirOnly });
    }
    return new ExcludeRules(this.roots, this.globs, [...this.rules, ...added], this.own, sha256Hex(`${this.key}\0${base}\0${content}`));
  }

  /**
   * Whether `excludes` may say yes to an entry of `dir`: not without globs, .bkdrignore rules
   * or one of bkdr's own files there. Asked once per directory, it spares a walk the question
   * for each entry, which decoded the entry's path each time.
   */
  mayExcludeIn(dir: Buffer): boolean {
    return this.globs !== undefined || this.rules.length > 0 || (this.own?.withinLatin1(dir.toString('latin1')) ?? false);
  }

  excludes(path: Buffer, isDir: boolean): boolean {
    // latin1 maps every byte to one char, so non-UTF-8 names never throw and ASCII globs still match.
    const p = path.toString('latin1');
    if (this.own?.containsLatin1(p)) return true;
    if (this.globs) {
      if (this.globs(p)) return true;
      for (const root of this.roots) {
        if (p === root || p.startsWith(`${root}/`)) {
          const rel = p.slice(root.length + 1);
          if (rel && this.globs(rel)) return true;
        }
      }
    }
    let excluded = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.match(p)) excluded = !rule.negate;
    }
    return excluded;
  }
}
