import { ConfigError } from '../core/errors.js';

export interface ConfigIssue {
  path: string;
  message: string;
}

/** Every problem of a config, each with its field path; the message is the first. */
export class ConfigValidationError extends ConfigError {
  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
  ) {
    const first = issues[0] ?? { path: '', message: 'invalid config' };
    super(first.path, first.message + (issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''}; run bkdr config validate)` : ''));
  }
}

/** `destinations[1].config.bucket` from ['destinations', 1, 'config', 'bucket']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** The closest known key, if it is close enough to be what was meant. */
export function suggestKey(unknown: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = damerauLevenshtein(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  const prefix = known.find((k) => k.toLowerCase().startsWith(unknown.toLowerCase()) || unknown.toLowerCase().startsWith(k.toLowerCase()));
  if (bestDistance <= Math.min(2, Math.floor(unknown.length / 2))) return best;
  return prefix;
}

function damerauLevenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
