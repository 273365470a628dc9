import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DrScenario, DrStep } from '../config/dr-schema.js';
import { formatDuration } from '../core/duration.js';
import { parseTimeExpression } from '../core/time-expression.js';
import type { DrContext } from './dr-context.js';
import type { PlanGraphStep } from './plan-graph.js';
import { commandFound, diskRoom, endpointResolves, targetEmptyOrAbsent } from './preflight-checks.js';
import { restoreSelection } from './backup-service-steps.js';

/**
 * One check of a dry run. `error`: the step would fail, the dry run exits 2; `warning`:
 * it would run, with a consequence the operator should know (an RPO already missed).
 */
export interface PreflightCheck {
  check: string;
  ok: boolean;
  level: 'error' | 'warning';
  detail: string;
}

const pass = (check: string, detail: string): PreflightCheck => ({ check, ok: true, level: 'error', detail });
const fail = (check: string, detail: string, level: PreflightCheck['level'] = 'error'): PreflightCheck => ({ check, ok: false, level, detail });
const fromResult = (check: string, r: { ok: boolean; detail: string }, level: PreflightCheck['level'] = 'error'): PreflightCheck => ({ check, ok: r.ok, level, detail: r.detail });

/**
 * What a dry run checks of one step before anything would run (DESIGN.md "Dry run"):
 * a backup exists and is within the scenario's RPO; a point in time is inside the
 * recoverable window with no WAL gap; the restore target has room and is empty;
 * commands exist; endpoints resolve. Never changes anything.
 */
export async function preflightStep(ctx: DrContext, scenario: DrScenario, graphStep: PlanGraphStep, opts: { pointInTime?: Date | undefined; now?: Date }): Promise<PreflightCheck[]> {
  const step = graphStep.step as unknown as DrStep;
  const now = opts.now ?? new Date();
  try {
    switch (step.type) {
      case 'restore':
        return await preflightRestore(ctx, scenario, step, opts.pointInTime, now);
      case 'command':
        return [fromResult('command found', await commandFound(step.command))];
      case 'http':
        return [fromResult('endpoint resolves', await endpointResolves(step.url))];
      case 'tcp':
        return [fromResult('endpoint resolves', await endpointResolves(step.target))];
      case 'sql':
        return await preflightSql(ctx, step);
      case 'notify': {
        const checks: PreflightCheck[] = [];
        if (step.webhook) checks.push(fromResult('webhook resolves', await endpointResolves(step.webhook)));
        if (step.command) checks.push(fromResult('command found', await commandFound(step.command)));
        return checks;
      }
      case 'backup':
      case 'verify': {
        const source = step.source;
        if (source !== undefined && !ctx.config.sources?.[source]) return [fail('source configured', `source ${source} is not in the config`)];
        const destinations = step.type === 'backup' ? (step.destinations ?? []) : step.destination ? [step.destination] : [];
        const unknown = destinations.filter((d) => !ctx.config.destinations.some((c) => c.name === d));
        if (unknown.length > 0) return [fail('destinations configured', `destination ${unknown.join(', ')} is not in the config`)];
        return [pass('configured', source ? `source ${source}` : 'every destination')];
      }
      case 'wait':
        return [pass('duration', formatDuration(step.duration))];
      case 'approval':
        return [pass('approvers', step.approvers?.length ? step.approvers.join(', ') : 'anyone who runs `dr approve`')];
    }
  } catch (err) {
    return [fail('preflight', err instanceof Error ? err.message : String(err))];
  }
}

async function preflightRestore(ctx: DrContext, scenario: DrScenario, step: Extract<DrStep, { type: 'restore' }>, pointInTime: Date | undefined, now: Date): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  if (!ctx.config.sources?.[step.source]) return [fail('source configured', `source ${step.source} is not in the config`)];
  const points = await ctx.backup.recoveryPoints(step.source, step.from);
  if (!points.latest || !points.earliest) return [fail('backup exists', `no backup of ${step.source}${step.from ? ` on ${step.from}` : ''}`)];
  checks.push(pass('backup exists', `${points.kind === 'point-in-time' ? 'recoverable' : 'backups'} from ${points.earliest} to ${points.latest} on ${points.destination}`));

  const selection = restoreSelection(step, pointInTime ? { pointInTime } : {});
  if (selection.at !== undefined) {
    const at = selection.at instanceof Date ? selection.at : parseTimeExpression(selection.at, now);
    const iso = at.toISOString();
    if (points.kind === 'point-in-time') {
      checks.push(
        iso < points.earliest || iso > points.latest
          ? fail('point in time in window', `${iso} is outside the recoverable window of ${step.source}: ${points.earliest} to ${points.latest}`)
          : pass('point in time in window', `${iso} is inside ${points.earliest} to ${points.latest}`),
      );
    } else {
      checks.push(
        iso < points.earliest
          ? fail('backup at that time', `no backup of ${step.source} at or before ${iso}; the oldest is ${points.earliest}`)
          : pass('backup at that time', `a backup at or before ${iso}`),
      );
    }
  } else {
    const ageMs = now.getTime() - Date.parse(points.latest);
    checks.push(
      ageMs <= scenario.rpo
        ? pass('within RPO', `newest point ${formatDuration(ageMs)} old, RPO ${formatDuration(scenario.rpo)}`)
        : fail('within RPO', `newest point is ${formatDuration(ageMs)} old: past the RPO of ${formatDuration(scenario.rpo)}`, 'warning'),
    );
  }
  if (points.kind === 'point-in-time') {
    checks.push(
      points.walGaps.length === 0
        ? pass('WAL continuity', 'no gap in the archived WAL')
        : fail('WAL continuity', `WAL missing ${points.walGaps.map((g) => `${g.from}…${g.to}`).join(', ')}: recovery stops at the first gap`),
    );
  }
  if (step.target !== undefined) {
    const target = resolve(ctx.configDir, step.target);
    checks.push(fromResult('disk room', await diskRoom(target, points.newestBytes ?? 0)));
    if (!step.force) checks.push(fromResult('target empty', await targetEmptyOrAbsent(target)));
  }
  return checks;
}

async function preflightSql(ctx: DrContext, step: Extract<DrStep, { type: 'sql' }>): Promise<PreflightCheck[]> {
  if (step.url !== undefined) {
    const client = /^mysql:|^mariadb:/.test(step.url) ? 'mariadb' : 'psql';
    return [fromResult('client found', await commandFound(client)), await databaseEndpoint(step.url)];
  }
  const source = ctx.config.sources?.[step.source ?? ''];
  if (!source || (source.type !== 'postgres' && source.type !== 'mysql')) return [fail('source configured', `source ${step.source} is not a postgres or mysql source in the config`)];
  return [fromResult('client found', await commandFound(source.type === 'postgres' ? 'psql' : 'mariadb'))];
}

/**
 * A database URL without a host connects over a Unix socket (`postgresql:///app?host=/run/postgresql`):
 * the socket's folder is what must be there, not a name to resolve.
 */
async function databaseEndpoint(url: string): Promise<PreflightCheck> {
  const socketUrl = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:\/|$)/i.test(url);
  if (!socketUrl) return fromResult('endpoint resolves', await endpointResolves(url));
  const socketDir = /[?&]host=([^&]+)/.exec(url)?.[1];
  if (!socketDir) return pass('endpoint', 'the client library default socket');
  const dir = decodeURIComponent(socketDir);
  return existsSync(dir) ? pass('socket folder', `${dir} exists`) : fail('socket folder', `${dir} does not exist: the server is not running here, or the URL names the wrong folder`);
}
