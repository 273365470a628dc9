import { UsageError } from './errors.js';

/**
 * Parses the <time> of CLI.md: ISO-8601 ('2026-11-24T02:00:00Z', '2026-11-24'),
 * relative ('2h ago', '3 days ago', '90m ago', 'now'), or a named day with an
 * optional clock time ('yesterday 18:00', 'today 02:30'). Local time zone for
 * named days, as a user at a terminal means them.
 */
export function parseTimeExpression(text: string, now: Date = new Date()): Date {
  const input = text.trim().toLowerCase();
  if (input === 'now') return new Date(now);

  const relative = /^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?|mo|months?|y|years?)\s+ago$/.exec(input);
  if (relative) {
    const amount = Number(relative[1]);
    const unit = relative[2] ?? '';
    return subtract(now, amount, unit);
  }

  const named = /^(today|yesterday)(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(input);
  if (named) {
    const day = new Date(now);
    if (named[1] === 'yesterday') day.setDate(day.getDate() - 1);
    if (named[2] !== undefined) day.setHours(Number(named[2]), Number(named[3]), Number(named[4] ?? 0), 0);
    else day.setHours(named[1] === 'today' ? now.getHours() : 23, named[1] === 'today' ? now.getMinutes() : 59, 59, 999);
    return day;
  }

  if (/^\d{4}-\d{2}-\d{2}/.test(input)) {
    // A bare date means the end of that day: "--at 2026-11-24" should include backups taken that day.
    const parsed = /^\d{4}-\d{2}-\d{2}$/.test(input) ? new Date(`${input}T23:59:59.999`) : new Date(text.trim());
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  throw new UsageError(`cannot read time '${text}': use ISO-8601 (2026-11-24T02:00:00Z) or relative ('2h ago', 'yesterday 18:00')`);
}

const unitMs: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function subtract(now: Date, amount: number, unit: string): Date {
  const result = new Date(now);
  if (unit.startsWith('mo')) {
    result.setMonth(result.getMonth() - amount);
    return result;
  }
  if (unit.startsWith('y')) {
    result.setFullYear(result.getFullYear() - amount);
    return result;
  }
  const key = unit.startsWith('min') || unit === 'm' ? 'm' : unit.startsWith('s') ? 's' : unit.startsWith('h') ? 'h' : unit.startsWith('d') ? 'd' : 'w';
  return new Date(now.getTime() - amount * (unitMs[key] ?? 0));
}
