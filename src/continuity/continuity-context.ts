import type { Catalog } from '../catalog/catalog.js';
import type { BkdrConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';

/**
 * What the continuity use cases share (DESIGN.md "Business continuity"): the config
 * (systems, risks, kpiThresholds), the catalog whose records are the evidence, and a
 * clock, so a test can age records by moving `now` (and must say so).
 */
export interface ContinuityContext {
  readonly config: BkdrConfig;
  /** Relative paths in the config resolve against this folder. */
  readonly configDir: string;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly now: () => Date;
}
