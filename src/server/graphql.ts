// The package's second entry point, `bkdr/graphql`: bkdr's Pothos schema pieces for an
// application's own builder, and the error masking its graphql-yoga server should use.
// Apart from the main entry so that a library user who does not serve GraphQL loads none of it.
export { addBkdrSchema, type BkdrSchemaHandle, type BkdrSchemaOptions } from './schema/add-bkdr-schema.js';
export type { BkdrAction, BkdrScalars, BkdrSchemaTypes } from './schema/schema-types.js';
export { maskBkdrError } from './mask-error.js';
