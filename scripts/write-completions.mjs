// Regenerates completions/ from the built command tree (`npm run build && npm run completions`).
import { writeFileSync } from 'node:fs';
import { buildProgram } from '../dist/cli/program.js';
import { renderCompletion } from '../dist/cli/completion-script.js';

for (const shell of ['bash', 'zsh', 'fish']) {
  writeFileSync(new URL(`../completions/bkdr.${shell}`, import.meta.url), renderCompletion(buildProgram().program, shell));
}
