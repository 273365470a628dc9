// The PothosSchemaTypes namespace is declared by the package: a type-only import brings it in.
import type {} from '@pothos/core';
import type { BkdrServices } from '../../api/services.js';
import type { OperationTracker } from '../operations.js';

/** The scalars bkdr's fields use: times as ISO-8601 `DateTime`, free-form evidence as `JSON`. */
// A type, not an interface: Pothos needs the index signature a type literal has implicitly.
export type BkdrScalars = {
  DateTime: { Input: Date; Output: Date | string };
  JSON: { Input: unknown; Output: unknown };
};

/**
 * The Pothos types bkdr's schema pieces are written against. The context is the
 * application's own (bkdr never reads it; `authorize` does), so it is only an object here.
 */
export type BkdrSchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<{ Context: object; Scalars: BkdrScalars }>;
export type BkdrBuilder = PothosSchemaTypes.SchemaBuilder<BkdrSchemaTypes>;

/** `read`: every query and subscription; `operate`: mutations, which start or change something. */
export type BkdrAction = 'read' | 'operate';

/** What every piece of the schema resolves against. */
export interface SchemaDeps {
  services: BkdrServices;
  operations: OperationTracker;
  /** Throws when the request may not do `action` (the field names what was asked, for the error). */
  guard: (ctx: object, action: BkdrAction, field: string) => Promise<void>;
  /** Who is asking, as approvals, triggers and assessments record it. */
  who: (ctx: object) => string;
  /** `backupStatus` reads every repository: concurrent and repeated asks within a moment share one read. */
  backupStatus: () => ReturnType<BkdrServices['backupManager']['getBackupStatus']>;
  /** How often a subscription looks at the catalog for a change. */
  pollMs: number;
  /** Aborted when the host shuts down: every subscription ends. */
  subscriptionsEnd: AbortSignal;
}
