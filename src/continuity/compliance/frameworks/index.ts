import type { Framework, FrameworkId } from '../framework.js';
import { gdpr } from './gdpr.js';
import { iso22301 } from './iso-22301.js';
import { nistCsf } from './nist-csf.js';
import { sox } from './sox.js';

/** The frameworks bkdr assesses, one file each (CONTINUITY.md: the catalog is data, not code branches). */
export const FRAMEWORKS: readonly Framework[] = [sox, iso22301, nistCsf, gdpr];

export function frameworkById(id: string): Framework | undefined {
  const wanted = id.toUpperCase().replace(/[\s_]/g, '-');
  return FRAMEWORKS.find((f) => f.id === (wanted as FrameworkId));
}
