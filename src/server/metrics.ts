import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { BackupRecord } from '../catalog/backups-table.js';
import type { Catalog } from '../catalog/catalog.js';
import type { DrExecutionRecord } from '../catalog/dr-executions-table.js';
import type { BkdrConfig } from '../config/schema.js';
import { silentLogger } from '../core/logger.js';
import type { ContinuityContext } from '../continuity/continuity-context.js';
import { latestAssessments } from '../continuity/compliance/latest-assessments.js';
import { type Kpi, measureKpis } from '../continuity/kpis.js';

/** No LIMIT: SQLite reads a negative limit as none. */
const ALL = -1;

export interface MetricsOptions {
  config: BkdrConfig;
  catalog: Catalog;
  now?: () => Date;
  /** What the repositories hold now (`backup status`'s destinations); without it, no repository size is reported. */
  destinations?: readonly { name: string; type: string; reachable: boolean; storedBytes: number; packs: number }[] | undefined;
}

export interface MetricsPayload {
  /** The Content-Type header to serve `body` with (Prometheus text exposition format). */
  contentType: string;
  body: string;
}

/**
 * The process metrics (CPU, memory, event loop, GC) live in one private registry per
 * process: collectDefaultMetrics starts a GC observer and an event-loop-delay monitor each
 * time it is called, so calling it per scrape would leak both and reset the histograms.
 * It is not prom-client's global default registry.
 *
 * Three of prom-client's default metrics are gauges named `..._total`, which `promtool check
 * metrics` rejects (only counters may end in _total); they are dropped, and their per-type
 * breakdowns (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources) stay.
 */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    for (const name of MISNAMED_DEFAULT_GAUGES) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

const seconds = (iso: string): number => Date.parse(iso) / 1000;

/**
 * The Prometheus exposition of bkdr's state, read from the catalog at the time of the call
 * (for `bkdr serve`'s /metrics). Each call builds a fresh registry of gauges, so a source,
 * destination or scenario that left the catalog leaves the output too.
 */
export async function collectMetrics(opts: MetricsOptions): Promise<MetricsPayload> {
  const { config, catalog } = opts;
  const now = opts.now ?? (() => new Date());
  const register = new Registry();

  backupMetrics(register, catalog);
  runMetrics(register, catalog);
  drMetrics(register, catalog);
  const ctx: ContinuityContext = { config, configDir: '.', catalog, logger: silentLogger, now };
  kpiMetrics(register, measureKpis(ctx).kpis);
  complianceMetrics(register, ctx, now());
  if (opts.destinations) destinationMetrics(register, opts.destinations);

  const merged = Registry.merge([processMetrics(), register]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

function backupMetrics(register: Registry, catalog: Catalog): void {
  const lastSuccess = new Gauge({
    name: 'bkdr_backup_last_success_timestamp_seconds',
    help: 'Unix time of the newest backup in the catalog, per source and destination.',
    labelNames: ['source', 'destination'] as const,
    registers: [register],
  });
  const bytes = new Gauge({
    name: 'bkdr_backup_bytes',
    help: 'Size in bytes of the data in the newest backup, per source and destination.',
    labelNames: ['source', 'destination'] as const,
    registers: [register],
  });
  const newest = new Map<string, BackupRecord>();
  for (const b of catalog.backups.list()) {
    const key = JSON.stringify([b.source, b.destination]);
    const seen = newest.get(key);
    if (!seen || seconds(b.time) > seconds(seen.time)) newest.set(key, b);
  }
  for (const b of newest.values()) {
    const labels = { source: b.source, destination: b.destination };
    lastSuccess.set(labels, seconds(b.time));
    bytes.set(labels, b.bytes);
  }
}

function runMetrics(register: Registry, catalog: Catalog): void {
  const duration = new Gauge({
    name: 'bkdr_backup_last_run_duration_seconds',
    help: 'How long the newest finished backup run of each source took, in seconds.',
    labelNames: ['source'] as const,
    registers: [register],
  });
  const runs = new Gauge({
    name: 'bkdr_backup_runs',
    help: 'Backup runs recorded in the catalog (dry runs aside), per source and status.',
    labelNames: ['source', 'status'] as const,
    registers: [register],
  });
  const lastFinished = new Set<string>();
  // Newest first: the first finished run of a source is its last.
  for (const r of catalog.runs.list({ kind: 'backup', limit: ALL })) {
    if (r.source === null || catalog.runLogs.wasDryRun(r.id)) continue;
    runs.inc({ source: r.source, status: r.status });
    if (r.finishedAt !== null && !lastFinished.has(r.source)) {
      lastFinished.add(r.source);
      duration.set({ source: r.source }, Math.max(0, seconds(r.finishedAt) - seconds(r.startedAt)));
    }
  }
}

function destinationMetrics(register: Registry, destinations: NonNullable<MetricsOptions['destinations']>): void {
  const size = new Gauge({
    name: 'bkdr_repository_size_bytes',
    help: 'Bytes the repository stores on each destination (its packs), as last read.',
    labelNames: ['destination', 'type'] as const,
    registers: [register],
  });
  const reachable = new Gauge({ name: 'bkdr_destination_up', help: '1 when the destination answered the last read, else 0.', labelNames: ['destination', 'type'] as const, registers: [register] });
  for (const d of destinations) {
    reachable.set({ destination: d.name, type: d.type }, d.reachable ? 1 : 0);
    if (d.reachable) size.set({ destination: d.name, type: d.type }, d.storedBytes);
  }
}

function drMetrics(register: Registry, catalog: Catalog): void {
  const executions = new Gauge({
    name: 'bkdr_dr_executions',
    help: 'DR executions recorded in the catalog (dry runs aside), per scenario and status.',
    labelNames: ['scenario', 'status'] as const,
    registers: [register],
  });
  const achieved = {
    rto: new Gauge({
      name: 'bkdr_dr_last_rto_achieved_seconds',
      help: 'Recovery time achieved by the newest DR execution of each scenario that measured one, in seconds.',
      labelNames: ['scenario'] as const,
      registers: [register],
    }),
    rpo: new Gauge({
      name: 'bkdr_dr_last_rpo_achieved_seconds',
      help: 'Recovery point (data loss window) achieved by the newest DR execution of each scenario that measured one, in seconds.',
      labelNames: ['scenario'] as const,
      registers: [register],
    }),
  };
  const newest = { rto: new Set<string>(), rpo: new Set<string>() };
  // Newest first: the first execution of a scenario with an achieved value is its last.
  for (const e of catalog.drExecutions.list({ limit: ALL })) {
    if (e.dryRun) continue;
    executions.inc({ scenario: e.scenarioId, status: e.status });
    for (const which of ['rto', 'rpo'] as const) setFirst(newest[which], achieved[which], e, which);
  }
}

function setFirst(seen: Set<string>, gauge: Gauge<'scenario'>, e: DrExecutionRecord, which: 'rto' | 'rpo'): void {
  const value = e[which].achievedSeconds;
  if (e.endedAt === null || value === null || seen.has(e.scenarioId)) return;
  seen.add(e.scenarioId);
  gauge.set({ scenario: e.scenarioId }, value);
}

/** A KPI in base units: a percentage as a 0-1 ratio, minutes and hours as seconds. */
function baseUnits(k: Kpi & { value: number }): number {
  switch (k.unit) {
    case '%':
      return k.value / 100;
    case 'minutes':
      return k.value * 60;
    case 'hours':
      return k.value * 3600;
  }
}

function kpiMetrics(register: Registry, kpis: Kpi[]): void {
  const gauge = new Gauge({
    name: 'bkdr_kpi_value',
    help: 'Continuity KPIs with a measured value (bkdr kpi), in base units: percentages as 0-1 ratios, durations in seconds.',
    labelNames: ['kpi'] as const,
    registers: [register],
  });
  for (const k of kpis) if (k.value !== null) gauge.set({ kpi: k.name }, baseUnits({ ...k, value: k.value }));
}

function complianceMetrics(register: Registry, ctx: ContinuityContext, now: Date): void {
  const gauge = new Gauge({
    name: 'bkdr_compliance_score',
    help: 'Overall compliance of the latest assessment of each framework, as a 0-1 ratio.',
    labelNames: ['framework'] as const,
    registers: [register],
  });
  for (const [framework, a] of latestAssessments(ctx, now)) gauge.set({ framework }, a.overallCompliance / 100);
}
