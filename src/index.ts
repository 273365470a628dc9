// The library entry point: `import { defineConfig, createBackupManager } from 'bkdr'`.
export * from './core/errors.js';
export { ExitCode } from './core/exit-codes.js';
export { createBackupManager, type CreateBackupManagerOptions } from './api/backup.js';
export { BackupManager } from './backup/backup-manager.js';
export type { BackupEvent, BackupRunResult, BackupStatus, BackupSummary, CreateBackupOptions, RestoreOutcome, RestoreRequest } from './backup/backup-manager.js';
export { defineConfig } from './config/define-config.js';
export type { BkdrConfig, BkdrConfigInput } from './config/schema.js';
export { loadConfig, type LoadedConfig } from './config/load.js';
