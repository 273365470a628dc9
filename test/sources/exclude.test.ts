import { describe, expect, it } from 'vitest';
import { ExcludeRules } from '../../src/sources/files/exclude.js';

const p = (s: string) => Buffer.from(s);

describe('ExcludeRules', () => {
  const rules = ExcludeRules.fromConfig(['/srv/app'], ['**/node_modules/**', '**/node_modules', '*.tmp', '/srv/app/cache', 'logs/**']);

  it.each([
    ['/srv/app/node_modules', true, true],
    ['/srv/app/a/node_modules/x/y.js', false, true],
    ['/srv/app/x.tmp', false, true],
    ['/srv/app/deep/x.tmp', false, false],
    ['/srv/app/cache', true, true],
    ['/srv/app/logs/today.log', false, true],
    ['/srv/app/src/index.ts', false, false],
  ])('%s (dir: %s) excluded: %s', (path, isDir, excluded) => {
    expect(rules.excludes(p(path), isDir)).toBe(excluded);
  });

  it('applies .bkdrignore rules below their directory, with anchors, dir-only rules and negation', () => {
    const scoped = rules.withIgnoreFile(p('/srv/app/web'), ['# comment', '', '*.log', '!keep.log', '/build', 'tmp/'].join('\n'));
    expect(scoped.excludes(p('/srv/app/web/a.log'), false)).toBe(true);
    expect(scoped.excludes(p('/srv/app/web/sub/b.log'), false)).toBe(true);
    expect(scoped.excludes(p('/srv/app/web/keep.log'), false)).toBe(false);
    expect(scoped.excludes(p('/srv/app/web/build'), true)).toBe(true);
    expect(scoped.excludes(p('/srv/app/web/sub/build'), true)).toBe(false);
    expect(scoped.excludes(p('/srv/app/web/sub/tmp'), true)).toBe(true);
    expect(scoped.excludes(p('/srv/app/web/sub/tmp'), false)).toBe(false);
    expect(scoped.excludes(p('/srv/app/other.log'), false)).toBe(false);
  });

  it('never throws on names that are not UTF-8', () => {
    expect(rules.excludes(Buffer.concat([p('/srv/app/'), Buffer.from([0xff, 0xfe]), p('.tmp')]), false)).toBe(true);
  });

  it("asks nothing of a directory's entries where nothing can be excluded: no globs, no .bkdrignore, none of its own files", () => {
    const own = {
      containsLatin1: (path: string) => path.startsWith('/srv/app/repo'),
      withinLatin1: (dir: string) => ['/', '/srv', '/srv/app', '/srv/app/repo'].includes(dir) || dir.startsWith('/srv/app/repo/'),
    };
    const bare = ExcludeRules.fromConfig(['/srv/app'], [], own);
    expect(bare.mayExcludeIn(p('/srv/app/src'))).toBe(false);
    expect(bare.mayExcludeIn(p('/srv/app'))).toBe(true);
    expect(bare.excludes(p('/srv/app/repo'), true)).toBe(true);
    expect(bare.withIgnoreFile(p('/srv/app/src'), 'dist/').mayExcludeIn(p('/srv/app/src/lib'))).toBe(true);
    expect(rules.mayExcludeIn(p('/srv/app/src'))).toBe(true);
    expect(ExcludeRules.fromConfig(['/srv/app'], []).mayExcludeIn(p('/srv/app'))).toBe(false);
  });
});
