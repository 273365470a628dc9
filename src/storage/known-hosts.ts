import { createHmac } from 'node:crypto';

/**
 * OpenSSH known_hosts matching: `host`, `[host]:port` for other ports, comma-separated
 * patterns, and hashed entries (`|1|salt|hash`, HMAC-SHA1 of the name). Wildcards
 * and @revoked markers are not supported: such lines never match.
 */
export function knownHostKeys(knownHosts: string, host: string, port: number): Buffer[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const keys: Buffer[] = [];
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [patterns, , key] = line.split(/\s+/);
    if (!patterns || !key) continue;
    if (patterns.split(',').some((p) => matches(p, name))) keys.push(Buffer.from(key, 'base64'));
  }
  return keys;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return pattern === name;
}
