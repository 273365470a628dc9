import type { SchemaTypes } from '@pothos/core';
import { GraphQLError } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { BkdrServices } from '../../api/services.js';
import type { BackupStatus } from '../../backup/backup-manager.js';
import { OperationTracker } from '../operations.js';
import { addBackupFields } from './backup-fields.js';
import { addContinuityFields } from './continuity-fields.js';
import { addDrFields } from './dr-fields.js';
import type { BkdrAction, BkdrBuilder, SchemaDeps } from './schema-types.js';
import { sharedFor } from './shared-for.js';

export interface BkdrSchemaOptions<Context = object> {
  /**
   * Whether the request may `read` (queries, subscriptions) or `operate` (mutations). The
   * default allows everything: an application puts its own authentication in front.
   */
  authorize?: (ctx: Context, action: BkdrAction, field: string) => boolean | Promise<boolean>;
  /** Who is asking, as approvals, triggered recoveries and assessments record it (default 'api'). */
  who?: (ctx: Context) => string;
  /** Adds the `DateTime` and `JSON` scalars; false when the builder has them already. */
  addScalars?: boolean;
  /** How often a subscription looks for a change, ms (default 500). */
  pollMs?: number;
  /** How long one read of the repositories answers `backupStatus`, ms (default 2000). */
  backupStatusMaxAgeMs?: number;
  /** A shared reader of the backup status, when the host already has one (the server's /metrics). */
  backupStatus?: () => Promise<BackupStatus>;
}

export interface BkdrSchemaHandle {
  /** Interrupts the backups, restores and recoveries the API started, waits until each has recorded how it ended, then ends every subscription. */
  shutdown(): Promise<void>;
  /** How many of them are running. */
  readonly activeOperations: number;
}

/**
 * Adds bkdr's types and its Query, Mutation and Subscription fields to an application's
 * own Pothos builder (which must have declared the three root types). The fields resolve
 * against the services given, the same objects the library's factories return.
 *
 *   const builder = new SchemaBuilder<{ Context: AppContext }>({});
 *   builder.queryType({}); builder.mutationType({}); builder.subscriptionType({});
 *   addBkdrSchema(builder, await initializeEnterpriseBackupInfrastructure({ backup: config }));
 */
export function addBkdrSchema<Types extends SchemaTypes>(builder: PothosSchemaTypes.SchemaBuilder<Types>, services: BkdrServices, opts: BkdrSchemaOptions<Types['Context']> = {}): BkdrSchemaHandle {
  // The fields are written against bkdr's own scalar names; the application's other types do not matter to them.
  const b = builder as unknown as BkdrBuilder;
  if (opts.addScalars !== false) {
    b.addScalarType('DateTime', DateTimeResolver, {});
    b.addScalarType('JSON', JSONResolver, {});
  }
  const operations = new OperationTracker();
  const subscriptions = new AbortController();
  const pollMs = opts.pollMs ?? 500;
  const authorize = opts.authorize as ((ctx: object, action: BkdrAction, field: string) => boolean | Promise<boolean>) | undefined;
  const deps: SchemaDeps = {
    services,
    operations,
    guard: async (ctx, action, field) => {
      if (authorize && !(await authorize(ctx, action, field)))
        throw new GraphQLError(action === 'operate' ? `${field} changes state: it needs a token with role operate` : `not allowed to read ${field}`, { extensions: { code: 'FORBIDDEN' } });
    },
    who: (ctx) => (opts.who as ((ctx: object) => string) | undefined)?.(ctx) ?? 'api',
    backupStatus: opts.backupStatus ?? sharedFor(() => services.backupManager.getBackupStatus(), opts.backupStatusMaxAgeMs ?? 2000),
    pollMs,
    subscriptionsEnd: subscriptions.signal,
  };
  addBackupFields(b, deps);
  addDrFields(b, deps);
  addContinuityFields(b, deps);
  return {
    shutdown: async () => {
      await operations.shutdown();
      // A poll more, so that those following an interrupted operation see how it ended; then every stream ends.
      await new Promise((resolve) => setTimeout(resolve, pollMs + 50));
      subscriptions.abort();
    },
    get activeOperations() {
      return operations.active;
    },
  };
}
