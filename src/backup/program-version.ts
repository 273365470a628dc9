/** bkdr's version, as snapshots record it (`programVersion`). */
export const PROGRAM_VERSION = '0.1.0';
