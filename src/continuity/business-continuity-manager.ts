import type { Catalog } from '../catalog/catalog.js';
import type { AssessmentRecord } from '../catalog/assessments-table.js';
import type { BkdrConfig } from '../config/schema.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { dirname, resolve } from 'node:path';
import { type AssessmentResult, conductAssessment, listFrameworks } from './compliance/assess.js';
import type { ContinuityContext } from './continuity-context.js';
import { analyseBusinessImpact, type BiaResult } from './business-impact.js';
import { generateComplianceReport } from './compliance-report.js';
import { type BcReportKind, generateBcReport } from './continuity-reports.js';
import { type EvidenceBundleResult, writeEvidenceBundle } from './evidence-bundle.js';
import { generateExecutiveDashboard } from './executive-dashboard.js';
import { type KpiResult, measureKpis } from './kpis.js';
import type { DashboardModel } from '../report/dashboard-model.js';
import type { BackupStatus } from '../backup/backup-manager.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { ReportDocument } from '../report/report-document.js';
import { addRisk, closeRisk, type RegisterRisk, type RiskInput, riskRegister, type RiskRegisterView, updateRisk } from './risk-register.js';

export type { AssessmentResult } from './compliance/assess.js';
export type { BiaResult } from './business-impact.js';
export type { KpiResult } from './kpis.js';
export type { RegisterRisk, RiskRegisterView } from './risk-register.js';
export type { ReportDocument } from '../report/report-document.js';
export type { DashboardModel } from '../report/dashboard-model.js';
export type { BcReportKind } from './continuity-reports.js';

export interface BusinessContinuityManagerOptions {
  config: BkdrConfig;
  /** Relative paths in the config resolve against this file's folder. */
  configPath: string;
  catalog: Catalog;
  logger?: Logger;
  /** The clock records are judged against; a test may move it to age records (and must say so). */
  now?: () => Date;
}

/**
 * The business continuity service (DESIGN.md "Business continuity"): what the CLI, the
 * GraphQL API and an embedding application call, with the brief's method names. A
 * facade over one-file use cases; every answer is computed from what bkdr recorded.
 */
export class BusinessContinuityManager {
  readonly #ctx: ContinuityContext;

  constructor(opts: BusinessContinuityManagerOptions) {
    this.#ctx = { config: opts.config, configDir: dirname(resolve(opts.configPath)), catalog: opts.catalog, logger: opts.logger ?? silentLogger, now: opts.now ?? (() => new Date()) };
  }

  /** The brief's conductComplianceAssessment('ISO-22301', 'External Auditor', ['backup', 'recovery', 'testing']). */
  conductComplianceAssessment(framework: string, assessor: string, scope?: string[]): AssessmentResult {
    return conductAssessment(this.#ctx, framework, { assessor, scope });
  }

  /** The brief's generateComplianceReport('ISO-22301', { start, end }): assessments in the period, trend, findings, evidence. */
  generateComplianceReport(framework: string, period: { start: Date | string; end: Date | string }): ReportDocument {
    const at = (t: Date | string) => (t instanceof Date ? t : parseTimeExpression(t, this.#ctx.now()));
    return generateComplianceReport(this.#ctx, framework, { start: at(period.start), end: at(period.end) });
  }

  /** One of the brief's five reports; backup-status reads the backup service's status, which the caller passes. */
  generateReport(kind: BcReportKind, backupStatus?: BackupStatus): ReportDocument {
    return generateBcReport(this.#ctx, kind, backupStatus);
  }

  /** The report, the evidence and the audit export of the latest assessment, with a manifest of SHA-256 hashes, as one zip. */
  writeEvidenceBundle(framework: string, outPath: string): Promise<EvidenceBundleResult> {
    return writeEvidenceBundle(this.#ctx, framework, outPath);
  }

  /** The brief's generateExecutiveDashboard(): summaryMetrics (overallAvailability, businessContinuityReadiness, complianceScore, riskExposure) and the rest. */
  generateExecutiveDashboard(): DashboardModel {
    return generateExecutiveDashboard(this.#ctx);
  }

  listFrameworks(): ReturnType<typeof listFrameworks> {
    return listFrameworks();
  }

  /** Past assessments, newest first. */
  listAssessments(filter: { framework?: string | undefined; limit?: number | undefined } = {}): AssessmentRecord[] {
    return this.#ctx.catalog.assessments.list({ ...(filter.framework !== undefined ? { framework: filter.framework } : {}), limit: filter.limit ?? 100 });
  }

  getKpis(): KpiResult {
    return measureKpis(this.#ctx);
  }

  getBusinessImpactAnalysis(): BiaResult {
    return analyseBusinessImpact(this.#ctx);
  }

  getRiskRegister(): RiskRegisterView {
    return riskRegister(this.#ctx);
  }

  addRisk(input: RiskInput): RegisterRisk {
    return addRisk(this.#ctx, input);
  }

  updateRisk(id: string, patch: Partial<RiskInput>): RegisterRisk {
    return updateRisk(this.#ctx, id, patch);
  }

  closeRisk(id: string, reason?: string): RegisterRisk {
    return closeRisk(this.#ctx, id, reason);
  }
}
