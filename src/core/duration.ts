import { UsageError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration as the config and flags write it ('300s', '5m', '1h', '2d', '1500ms', or a
 * bare number of milliseconds) in milliseconds. `what` names the flag or field in errors.
 */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new UsageError(`${what}: '${value}' is not a duration (such as 30s, 5m, 1h or milliseconds)`);
  return Number(match[1]) * UNIT_MS[(match[2] ?? 'ms') as keyof typeof UNIT_MS];
}
