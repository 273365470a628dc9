const SECRET_KEYS = /password|secret|token|passphrase|privatekey|accountkey|connectionstring|sastoken|hmacsecret|credentials|sessiontoken/i;

/**
 * A deep copy with every secret replaced by '***': values under secret-looking keys
 * (whole objects for credentials) and passwords embedded in URLs.
 */
export function redactConfig<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown, key = ''): unknown {
  if (SECRET_KEYS.test(key) && value !== undefined && value !== null && value !== '') return '***';
  if (typeof value === 'string') return redactUrlPassword(value);
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return value;
}

/** postgres://user:pw@host/db → postgres://user:***@host/db; any scheme. */
export function redactUrlPassword(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^@\s/]+)@/gi, '$1***@');
}
