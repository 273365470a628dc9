import SchemaBuilder from '@pothos/core';
import type { GraphQLSchema } from 'graphql';
import type { BkdrServices } from '../api/services.js';
import type { RequestIdentity } from './api-server.js';
import { addBkdrSchema, type BkdrSchemaHandle, type BkdrSchemaOptions } from './schema/add-bkdr-schema.js';

/** `bkdr serve`'s own schema: bkdr's pieces on an empty builder, with the token's role deciding who may operate. */
export function buildServeSchema(services: BkdrServices, opts: Pick<BkdrSchemaOptions, 'pollMs' | 'backupStatus'> = {}): { schema: GraphQLSchema; handle: BkdrSchemaHandle } {
  const builder = new SchemaBuilder<{ Context: { identity: RequestIdentity } }>({});
  builder.queryType({ description: 'Backups, recoveries and continuity, read from the catalog and the repositories.' });
  builder.mutationType({ description: 'Operations: they need a token with role operate.' });
  builder.subscriptionType({ description: 'Progress of running operations, over server-sent events.' });
  const handle = addBkdrSchema(builder, services, {
    authorize: (ctx, action) => action === 'read' || ctx.identity.role === 'operate',
    who: (ctx) => ctx.identity.tokenName,
    ...opts,
  });
  return { schema: builder.toSchema(), handle };
}
