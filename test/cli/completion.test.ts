import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCompletion } from '../../src/cli/completion-script.js';
import { buildProgram } from '../../src/cli/program.js';
import { repoRoot } from '../helpers/cli.js';

describe('shell completions', () => {
  it.each(['bash', 'zsh', 'fish'] as const)('the committed %s script matches the command tree', async (shell) => {
    const committed = await readFile(join(repoRoot, 'completions', `bkdr.${shell}`), 'utf8');
    expect(committed, 'completions are stale: run npm run build && npm run completions').toBe(renderCompletion(buildProgram().program, shell));
  });

  it('bash completes command groups, subcommands and flags', () => {
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `source completions/bkdr.bash; COMP_WORDS=(bkdr ${words.join(' ')}); COMP_CWORD=${words.length}; _bkdr; echo "\${COMPREPLY[@]}"`], {
        cwd: repoRoot,
        encoding: 'utf8',
      })
        .trim()
        .split(' ');
    expect(complete('ba')).toEqual(['backup']);
    expect(complete('backup', '')).toEqual(expect.arrayContaining(['run', 'list', 'verify', 'prune']));
    expect(complete('backup', 'run', '--t')).toEqual(expect.arrayContaining(['--type', '--tag']));
    expect(complete('--json', 'restore', '--ta')).toEqual(['--target', '--target-db']);
  });
});
