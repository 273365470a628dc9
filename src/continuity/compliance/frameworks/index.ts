import type { Framework, FrameworkId } from '../framework.js';
import { nistCsf } from './nist-csf.js';
import { sox } from './sox.js';

/** The frameworks bkdr assesses, one file each (CONTINUITY.md: the catalog is data, not code branches). */
export const FRAMEWORKS: readonly Framework[] = [sox, nistCsf];

export function frameworkById(id: string): Framework | undefined {
  const wanted = id.toUpperCase().replace(/[\s_]/g, '-');
  return FRAMEWORKS.find((f) => f.id === (wanted as FrameworkId));
}
