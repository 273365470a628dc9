import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The directory of this package's package.json, found by walking up from this module:
 * the same from src/ (tests), dist/ (the library) and dist/cli/bundle/ (the CLI), whose
 * modules sit at different depths.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  root = dir;
  return root;
}

/** This installation's bin/bkdr.js: crontab, systemd units and PostgreSQL's restore_command need an absolute path. */
export function binPath(): string {
  return join(packageRoot(), 'bin', 'bkdr.js');
}

/**
 * The node flags of bin/bkdr.js's exec line, its second (sh runs it; to node it is a string
 * and a comment), which an operator's `bkdr` runs with: a unit that starts node on the file
 * directly passes them too. None when the file cannot be read or has no such line.
 */
export function binNodeFlags(bin = binPath()): string[] {
  let text: string;
  try {
    text = readFileSync(bin, 'utf8');
  } catch {
    return [];
  }
  const exec = /^':' \/\/; exec node((?: --[\w-]+(?:=\S+)?)*) "\$0" "\$@"$/.exec(text.split('\n', 2)[1] ?? '');
  return exec?.[1]?.trim().split(' ').filter(Boolean) ?? [];
}

/** This installation's native bkdr-wal (native/bkdr_wal.c): the command PostgreSQL runs per WAL file with --async. */
export function walClientPath(): string {
  return join(packageRoot(), 'build', 'Release', 'bkdr-wal');
}
