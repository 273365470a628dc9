// The library entry point: `import { defineConfig, createBackupManager } from 'bkdr'`.
export * from './core/errors.js';
export { ExitCode } from './core/exit-codes.js';
export { createBackupManager, type ConfigArgument, type CreateBackupManagerOptions } from './api/backup.js';
export { BackupManager } from './backup/backup-manager.js';
export { createDisasterRecoveryOrchestrator, type CreateDisasterRecoveryOrchestratorOptions } from './api/dr.js';
export { DisasterRecoveryOrchestrator } from './dr/disaster-recovery-orchestrator.js';
export { createBusinessContinuityManager, type CreateBusinessContinuityManagerOptions } from './api/continuity.js';
export { initializeEnterpriseBackupInfrastructure, type AutomatedTestRun, type BkdrInfrastructure, type ComplianceFramework, type InitializeInfrastructureOptions } from './api/infrastructure.js';
export type { BkdrServices } from './api/services.js';
export type { SchedulerEvent } from './scheduling/scheduler.js';
export type { ScheduledJob } from './scheduling/schedule-plan.js';
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
