import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The candidate whose token an `Authorization: Bearer <token>` header carries, if any.
 * Hashing first gives equal lengths, and every candidate is compared, so the time taken
 * says nothing about how much of a token was right or which one matched.
 */
export function matchBearer<T extends { token: string }>(header: string | string[] | undefined, candidates: readonly T[]): T | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!m) return undefined;
  const given = digest(m[1]!);
  let found: T | undefined;
  for (const candidate of candidates) if (timingSafeEqual(given, digest(candidate.token)) && found === undefined) found = candidate;
  return found;
}
