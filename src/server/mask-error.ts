import { GraphQLError } from 'graphql';
import { BkdrError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** `UsageError` → `USAGE`, `WrongPasswordError` → `WRONG_PASSWORD`: the error's kind, for a client to branch on. */
const codeOf = (error: BkdrError): string =>
  error.name
    .replace(/Error$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase();

/**
 * What a GraphQL client is told of an error: bkdr's own errors by their one-line message
 * and kind (they are written for users), GraphQL's own (a bad query, a refused one) as they
 * are, and anything else as `message` alone, with the details in the server's log only.
 * Never a stack trace. An application that mounts bkdr's schema pieces passes this to its
 * graphql-yoga `maskedErrors.maskError`.
 */
export function maskBkdrError(error: unknown, message: string, logger?: Logger): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  const at = error instanceof GraphQLError ? { path: error.path ?? null, nodes: error.nodes ?? null } : {};
  if (original instanceof BkdrError) return new GraphQLError(original.message, { ...at, extensions: { code: codeOf(original), exitCode: original.exitCode } });
  if (error instanceof GraphQLError && (original === undefined || original === null || original instanceof GraphQLError)) return original instanceof GraphQLError ? original : error;
  logger?.error(`unexpected error in a GraphQL request: ${original instanceof Error ? (original.stack ?? original.message) : String(original)}`);
  return new GraphQLError(message, { ...at, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}
