// The library entry point: `import { defineConfig, createBackupManager } from 'bkdr'`.
export * from './core/errors.js';
export { ExitCode } from './core/exit-codes.js';
