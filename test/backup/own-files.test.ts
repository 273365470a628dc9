import { describe, expect, it } from 'vitest';
import { ownFilesOf } from '../../src/backup/own-files.js';
import { validateConfig } from '../../src/config/validate.js';

describe("bkdr's own files", () => {
  const config = validateConfig({
    sources: { files: { type: 'files', paths: ['/srv'] } },
    destinations: [
      { name: 'local', type: 'local', config: { path: 'repo/' } },
      { name: 'offsite', type: 's3', config: { bucket: 'b', region: 'us-east-1' } },
    ],
  });
  const own = ownFilesOf(config, '/srv/app', '/srv/app/.bkdr/catalog.db');

  it.each([
    ['a local repository, resolved against the config folder', '/srv/app/repo', true],
    ['anything inside it (packs, locks)', '/srv/app/repo/locks/abc', true],
    ['the catalog', '/srv/app/.bkdr/catalog.db', true],
    ["SQLite's side files", '/srv/app/.bkdr/catalog.db-wal', true],
    ['the audit anchor', '/srv/app/.bkdr/catalog.db.audit-head', true],
    ["the anchor's temporary copy while it is written (a watched source saw it as a change)", '/srv/app/.bkdr/catalog.db.audit-head.4242', true],
    ['a catalog kept aside by catalog rebuild', '/srv/app/.bkdr/catalog.db.damaged-2026-12-05T00-00-00-000Z', true],
    ['a sibling of the repository whose name only starts like it', '/srv/app/repository', false],
    ["another file in the catalog's folder", '/srv/app/.bkdr/notes.txt', false],
    ['the source itself', '/srv', false],
  ])('%s: %s → %s', (_what, path, expected) => {
    expect(own.contains(path)).toBe(expected);
  });

  it.each([
    ['the source, which holds the repository and the catalog', '/srv', true],
    ["the catalog's folder", '/srv/app/.bkdr', true],
    ['the same with a trailing slash', '/srv/app/.bkdr/', true],
    ['a folder inside the repository', '/srv/app/repo/data', true],
    ['the root', '/', true],
    ['a folder named like a sibling of the catalog, whose entries are taken for one', '/srv/app/.bkdr/catalog.db.old', true],
    ['a sibling of the repository whose name only starts like it', '/srv/app/repository', false],
    ['a folder beside them', '/srv/app/src', false],
    ['another tree', '/home', false],
  ])('tells a walk whether a folder may hold one of them (%s: %s → %s)', (_what, dir, expected) => {
    expect(own.withinLatin1(dir)).toBe(expected);
  });

  it('lists only what is on this host: no remote destination', () => {
    expect(own.paths).toEqual([
      '/srv/app/repo',
      '/srv/app/.bkdr/catalog.db',
      '/srv/app/.bkdr/catalog.db-wal',
      '/srv/app/.bkdr/catalog.db-shm',
      '/srv/app/.bkdr/catalog.db-journal',
      '/srv/app/.bkdr/catalog.db.audit-head',
    ]);
  });

  it('answers the same for a path in the latin1 form the exclude rules decode names to, non-ASCII names included', () => {
    const accented = ownFilesOf(validateConfig({ sources: {}, destinations: [{ type: 'local', config: { path: '/srv/sauvegardes/dépôt' } }] }), '/srv', '/srv/données/catalog.db');
    const latin1 = (path: string) => Buffer.from(path).toString('latin1');
    for (const [path, expected] of [
      ['/srv/sauvegardes/dépôt/locks/a', true],
      ['/srv/données/catalog.db-wal', true],
      ['/srv/données/catalog.db.audit-head.77', true],
      ['/srv/sauvegardes/dépôts', false],
    ] as const) {
      expect(accented.contains(path), path).toBe(expected);
      expect(accented.containsLatin1(latin1(path)), path).toBe(expected);
    }
  });
});
