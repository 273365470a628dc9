import { spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, runNode } from '../helpers/cli.js';
import { briefBackupConfig } from './brief-backup-config.js';

const here = import.meta.dirname;

/**
 * The brief's library snippets as an application would ship them: the file imports
 * 'bkdr' by name, type-checks against the published .d.ts, and runs against the built
 * package from an application folder where 'bkdr' is installed (a node_modules link).
 */
describe('the brief’s library snippets, as an application uses the package', () => {
  let app: Awaited<ReturnType<typeof makeTempDir>>;

  beforeAll(async () => {
    app = await makeTempDir('bkdr-brief-app-');
  });
  afterAll(async () => {
    await app?.cleanup();
  });

  it('type-check against dist/index.d.ts with strict NodeNext settings', () => {
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(here, 'tsconfig.snippets.json')], { encoding: 'utf8' });
    expect(tsc.status, `tsc:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
  }, 60_000);

  it('run for real: backup of a SQLite database and files, verified restore, status, logs, a DR dry run, an assessment', async () => {
    const data = join(app.path, 'data');
    await mkdir(join(data, 'files'), { recursive: true });
    await writeFile(join(data, 'files', 'orders.csv'), 'id,total\n1,10\n2,32\n');
    const db = new Database(join(data, 'app.db'));
    db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER); INSERT INTO orders (total) VALUES (10), (32);');
    db.close();
    // The same config as the snippet's object, as a file: what the factories called with no argument load.
    await writeFile(join(app.path, 'bkdr.config.json'), JSON.stringify(briefBackupConfig(data)));
    // The application has bkdr installed: node resolves 'bkdr' through node_modules to the built package.
    await mkdir(join(app.path, 'node_modules'));
    await symlink(repoRoot, join(app.path, 'node_modules', 'bkdr'), 'dir');
    const script = join(app.path, 'brief-snippets.mjs');
    // The application's own modules go into one script; 'bkdr' stays an import, resolved from the app's node_modules.
    await build({ entryPoints: [join(here, 'brief-snippets.ts')], outfile: script, bundle: true, external: ['bkdr'], format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });

    const run = await runNode([script], {
      cwd: app.path,
      env: { BKDR_SNIPPET_DIR: data, BKDR_CONFIG: join(app.path, 'bkdr.config.json'), BKDR_PASSWORD: 'test-password' },
    });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const got = JSON.parse(lines[0] ?? '') as {
      frameworks: string[];
      backup: { runId: string; status: string; sources: string[] };
      restore: { backupId: string; files: number; verifiedFiles: number; sameContent: boolean };
      status: { backups: number; sources: number };
      logs: { runStatus: string; lines: number };
      dryRun: { status: string; preflightOk: boolean; steps: number };
      assessment: { framework: string; overallCompliance: number; findings: number };
    };
    expect(got.frameworks).toEqual(['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR']);
    expect(got.backup).toMatchObject({ status: 'succeeded', sources: ['database', 'files'] });
    expect(got.restore).toMatchObject({ files: 1, verifiedFiles: 1, sameContent: true });
    expect(got.status).toEqual({ backups: 2, sources: 2 });
    expect(got.logs.runStatus).toBe('succeeded');
    expect(got.logs.lines).toBeGreaterThan(0);
    expect(got.dryRun).toEqual({ status: 'planned', preflightOk: true, steps: 1 });
    expect(got.assessment.framework).toBe('ISO-22301');
    expect(got.assessment.overallCompliance).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
