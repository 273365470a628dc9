import { ObjectNotFoundError } from './adapter.js';

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'BKDR_TIMEOUT',
]);
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'ServerBusy',
  'OperationTimedOut',
]);

/** The HTTP status an SDK error carries, whatever the SDK (AWS `$metadata`, Azure `statusCode`, fetch `status`). */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { $metadata?: { httpStatusCode?: number }; statusCode?: number; status?: number } | undefined;
  const status = e?.$metadata?.httpStatusCode ?? e?.statusCode ?? e?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * Worth another try: throttling, server errors, resets and timeouts. Never an
 * authentication or permission error, nor a missing object: those need a person.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof ObjectNotFoundError) return false;
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 100) return status === 408 || status === 429 || status >= 500;
  const e = err as { code?: unknown; name?: unknown; cause?: unknown } | undefined;
  if (typeof e?.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  // FTP reply codes 4xx are "transient negative completion" by RFC 959.
  if (typeof e?.code === 'number' && e.code >= 400 && e.code < 500) return true;
  if (typeof e?.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  return e?.cause !== undefined && e.cause !== err ? isTransient(e.cause) : false;
}
