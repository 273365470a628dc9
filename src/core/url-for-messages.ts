/**
 * A URL as messages and records may show it: never its user and password, nor its query
 * (tokens ride there: `?token=`, `?apiKey=`); with `path: false`, its host only, for URLs
 * whose path is the secret (Slack's and Teams' webhooks). Execution records, logs and API
 * answers to read-only tokens carry these messages.
 */
export function urlForMessages(url: string, opts: { path: boolean }): string {
  try {
    const u = new URL(url);
    if (!opts.path) return u.host || 'webhook';
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return opts.path ? 'the URL' : 'webhook';
  }
}
