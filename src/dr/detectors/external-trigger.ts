import { matchBearer } from '../../core/bearer-token.js';
import type { Firing } from './detector.js';

export interface ExternalRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface ExternalResponse {
  status: number;
  body: unknown;
}

export interface ExternalOptions {
  tokens: readonly string[];
  /** A condition name was named by a request; `f.trigger` says by which hook. */
  /** Returns whether any scenario watches the condition; names nobody watches are answered as `ignored`. */
  onFiring: (condition: string, f: Firing) => boolean;
}

interface AlertmanagerAlert {
  status?: unknown;
  labels?: { alertname?: unknown; [k: string]: unknown };
  startsAt?: unknown;
  fingerprint?: unknown;
}

function parseJson(body: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch {
    return { ok: false };
  }
}

const badRequest = (error: string): ExternalResponse => ({ status: 400, body: { error } });

function header(headers: ExternalRequest['headers'], name: string): string | string[] | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Alertmanager webhook v4: each firing alert names its alertname; resolved ones end nothing here (an execution is not undone). */
function alertmanager(payload: unknown, onFiring: ExternalOptions['onFiring']): ExternalResponse {
  const p = payload as { version?: unknown; receiver?: unknown; alerts?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.alerts)) return badRequest('not an Alertmanager webhook payload: no alerts list');
  if (p.version !== '4') return badRequest(`Alertmanager webhook payload version ${JSON.stringify(p.version)} is not supported; version "4" is`);
  const accepted: string[] = [];
  const ignored: string[] = [];
  const now = new Date();
  for (const alert of p.alerts as AlertmanagerAlert[]) {
    if (alert?.status !== 'firing') continue;
    const name = alert.labels?.alertname;
    if (typeof name !== 'string' || name === '') continue;
    const startsAt = typeof alert.startsAt === 'string' ? new Date(alert.startsAt) : undefined;
    const failureAt = startsAt && !Number.isNaN(startsAt.getTime()) ? startsAt : now;
    const receiver = typeof p.receiver === 'string' ? ` via receiver ${p.receiver}` : '';
    const fingerprint = typeof alert.fingerprint === 'string' ? ` (fingerprint ${alert.fingerprint})` : '';
    const watched = onFiring(name, { trigger: `external ${name}`, at: now, failureAt, detail: `Alertmanager alert ${name} firing${receiver}${fingerprint}` });
    (watched ? accepted : ignored).push(name);
  }
  return { status: 202, body: { accepted, ignored } };
}

function trigger(payload: unknown, onFiring: ExternalOptions['onFiring']): ExternalResponse {
  const p = payload as { condition?: unknown; reason?: unknown } | null;
  if (typeof p !== 'object' || p === null || typeof p.condition !== 'string' || p.condition.trim() === '') return badRequest('the body must be { "condition": "<name>", "reason"?: "<text>" }');
  const condition = p.condition.trim();
  const now = new Date();
  const watched = onFiring(condition, { trigger: `external ${condition}`, at: now, failureAt: now, detail: typeof p.reason === 'string' && p.reason !== '' ? p.reason : 'POST /hooks/trigger' });
  return { status: 202, body: watched ? { accepted: [condition], ignored: [] } : { accepted: [], ignored: [condition] } };
}

/**
 * The external triggers of `dr watch`, independent of any HTTP framework: POST
 * /hooks/alertmanager (an Alertmanager webhook, payload version 4) and POST /hooks/trigger
 * (`{ "condition": ..., "reason"? }`). Every request needs `Authorization: Bearer <token>`,
 * checked before anything else so an unauthenticated caller learns nothing of the routes.
 */
export function handleExternalRequest(req: ExternalRequest, opts: ExternalOptions): ExternalResponse {
  if (
    !matchBearer(
      header(req.headers, 'authorization'),
      opts.tokens.map((token) => ({ token })),
    )
  )
    return { status: 401, body: { error: 'a valid Authorization: Bearer token is required' } };
  const path = req.path.split('?', 1)[0]!.replace(/\/+$/, '');
  const route = path === '/hooks/alertmanager' ? alertmanager : path === '/hooks/trigger' ? trigger : undefined;
  if (!route) return { status: 404, body: { error: `no such hook: ${path}; POST /hooks/alertmanager or /hooks/trigger` } };
  if (req.method.toUpperCase() !== 'POST') return { status: 405, body: { error: `${path} takes POST` } };
  const json = parseJson(req.body);
  if (!json.ok) return badRequest('the body is not JSON');
  return route(json.value, opts.onFiring);
}
