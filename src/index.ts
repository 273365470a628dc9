// The library entry point: `import { defineConfig, createBackupManager } from 'bkdr'`.
export * from './core/errors.js';
export { ExitCode } from './core/exit-codes.js';
export { createBackupManager, type CreateBackupManagerOptions } from './api/backup.js';
export { BackupManager } from './backup/backup-manager.js';
export { createDisasterRecoveryOrchestrator, type CreateDisasterRecoveryOrchestratorOptions } from './api/dr.js';
export { DisasterRecoveryOrchestrator } from './dr/disaster-recovery-orchestrator.js';
export { createBusinessContinuityManager } from './api/continuity.js';
export { BusinessContinuityManager, type BusinessContinuityManagerOptions } from './continuity/business-continuity-manager.js';
export type { AssessmentResult, BcReportKind, BiaResult, DashboardModel, KpiResult, RegisterRisk, ReportDocument, RiskRegisterView } from './continuity/business-continuity-manager.js';
export type {
  ContinuityMetrics,
  ExecutionEvent,
  ExecutionStepView,
  ExecutionView,
  PreflightCheck,
  RecoveryTestOptions,
  RecoveryTestResult,
  ScenarioSummary,
  TriggerOptions,
  TriggerResult,
  WatchEvent,
  WatchOptions,
  WatchResult,
} from './dr/disaster-recovery-orchestrator.js';
export type { BackupEvent, BackupRunResult, BackupStatus, BackupSummary, CreateBackupOptions, RestoreOutcome, RestoreRequest } from './backup/backup-manager.js';
export { defineConfig } from './config/define-config.js';
export type { BkdrConfig, BkdrConfigInput } from './config/schema.js';
export { loadConfig, type LoadedConfig } from './config/load.js';
