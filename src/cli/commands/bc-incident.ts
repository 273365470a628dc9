import { dirname } from 'node:path';
import type { Command } from 'commander';
import type { IncidentRecord } from '../../catalog/incidents-table.js';
import type { ContinuityContext } from '../../continuity/continuity-context.js';
import type { CliContext } from '../context.js';
import { createTable, shortTime } from '../format.js';
import { withExample } from '../with-example.js';

/**
 * `bc incident`: incidents and their GDPR art. 33 record. DR executions open their own;
 * these commands open one by hand, record the authority's notification (or why it is late),
 * document facts, effects and remedial action, and close it with a summary.
 */
export function registerBcIncident(bc: Command, ctx: CliContext): void {
  const incident = withExample(bc.command('incident').description('incidents and the GDPR 72-hour notification clock'), 'bkdr bc incident list --open');

  withExample(
    incident
      .command('list')
      .description('incidents, newest first, with their GDPR clock')
      .option('--open', 'only incidents not closed yet')
      .option('--since <time>', "opened at or after (ISO-8601 or '7 days ago')")
      .action(async (flags: { open?: boolean; since?: string }) => {
        const { listIncidents } = await import('../../continuity/incidents.js');
        ctx.render(listIncidents(await continuityContext(ctx), { ...(flags.open ? { open: true } : {}), since: flags.since }), renderIncidentList);
      }),
    'bkdr bc incident list --open',
    "bkdr bc incident list --since '30 days ago' --json",
  );

  withExample(
    incident
      .command('open')
      .description('open an incident; with personal data affected, the 72-hour clock starts now')
      .requiredOption('--title <text>', 'what happened, in a line')
      .requiredOption('--severity <severity>', 'critical | high | medium | low')
      .option('--personal-data', 'personal data is affected (GDPR art. 33: notify the authority within 72 h)')
      .option('--systems <names>', 'affected systems from the config, comma-separated (one holding personal data starts the clock)')
      .option('--facts <text>', 'the facts known so far')
      .action(async (flags: { title: string; severity: string; personalData?: boolean; systems?: string; facts?: string }) => {
        const { openIncident } = await import('../../continuity/incidents.js');
        const systems = flags.systems
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const record = openIncident(await continuityContext(ctx), { title: flags.title, severity: flags.severity, personalData: flags.personalData, systems, facts: flags.facts });
        ctx.render(record, (r) => `opened incident ${r.id}\n${renderIncident(r)}`);
      }),
    "bkdr bc incident open --title 'customer export exposed' --severity high --personal-data",
  );

  withExample(
    incident
      .command('notify <incidentId>')
      .description('record that the supervisory authority was notified, or why notification is late')
      .option('--at <time>', 'when it was notified (default now)')
      .option('--delay-reason <text>', 'why notification is or was late; without --at it records the reason and not a notification')
      .action(async (id: string, flags: { at?: string; delayReason?: string }) => {
        const { recordNotification } = await import('../../continuity/incidents.js');
        ctx.render(recordNotification(await continuityContext(ctx), id, { at: flags.at, delayReason: flags.delayReason }), renderIncident);
      }),
    'bkdr bc incident notify 3f2a91 --at "2h ago"',
    'bkdr bc incident notify 3f2a91 --delay-reason "scope of the breach still unknown"',
  );

  withExample(
    incident
      .command('update <incidentId>')
      .description('document the breach (GDPR art. 33(5)): facts, effects, remedial action')
      .option('--facts <text>', 'what happened')
      .option('--effects <text>', 'its effects: data and people concerned')
      .option('--remedial-action <text>', 'what was and will be done about it')
      .action(async (id: string, flags: { facts?: string; effects?: string; remedialAction?: string }) => {
        const { documentIncident } = await import('../../continuity/incidents.js');
        ctx.render(documentIncident(await continuityContext(ctx), id, flags), renderIncident);
      }),
    'bkdr bc incident update 3f2a91 --effects "1 200 customer e-mail addresses" --remedial-action "link revoked, customers informed"',
  );

  withExample(
    incident
      .command('close <incidentId>')
      .description('close an incident with a summary of how it ended')
      .requiredOption('--summary <text>', 'how it ended')
      .action(async (id: string, flags: { summary: string }) => {
        const { closeIncident } = await import('../../continuity/incidents.js');
        ctx.render(closeIncident(await continuityContext(ctx), id, { summary: flags.summary }), (r) => `closed incident ${r.id}\n${renderIncident(r)}`);
      }),
    'bkdr bc incident close 3f2a91 --summary "contained; authority notified in time"',
  );
}

async function continuityContext(ctx: CliContext): Promise<ContinuityContext> {
  const loaded = await ctx.config();
  return { config: loaded.config, configDir: dirname(loaded.filepath), catalog: await ctx.catalog(), logger: ctx.logger, now: () => new Date() };
}

const hours = (h: number): string => (h < 1 ? `${Math.max(1, Math.round(h * 60))}m` : `${Math.floor(h)}h`);

/** The GDPR clock in a few words: "due in 41h", "OVERDUE by 3h", "notified 12h after". */
export function gdprClockText(r: IncidentRecord): string {
  const g = r.gdpr;
  if (!g) return '-';
  if (g.notifiedAt !== null) {
    const after = (Date.parse(g.notifiedAt) - Date.parse(r.openedAt)) / 3600_000;
    return `notified ${hours(after)} after${g.status === 'notified-late' ? ' (LATE)' : ''}`;
  }
  const left = g.hoursLeft ?? 0;
  const clock = left >= 0 ? `due in ${hours(left)}` : `OVERDUE by ${hours(-left)}`;
  return g.status === 'delayed-with-reason' ? `${clock}, delay reason recorded` : clock;
}

export function renderIncidentList(list: IncidentRecord[]): string {
  if (list.length === 0) return 'no incidents';
  const table = createTable(['incident', 'opened', 'severity', 'title', 'execution', 'GDPR clock', 'closed']);
  for (const r of list) {
    table.push([r.id.slice(0, 8), shortTime(r.openedAt), r.severity, r.title, r.executionId?.slice(0, 8) ?? '-', gdprClockText(r), r.closedAt ? shortTime(r.closedAt) : 'open']);
  }
  return table.toString();
}

export function renderIncident(r: IncidentRecord): string {
  const lines = [
    `${r.id}: ${r.title} (${r.severity}) — ${r.closedAt ? `closed ${shortTime(r.closedAt)}` : 'open'}`,
    `opened ${shortTime(r.openedAt)} by ${r.openedBy ?? 'unknown'}${r.executionId ? `, DR execution ${r.executionId}` : ''}`,
  ];
  if (r.gdpr) {
    lines.push(`GDPR: ${gdprClockText(r)} (due ${shortTime(r.gdpr.dueAt)})`);
    if (r.gdpr.delayReason) lines.push(`delay reason: ${r.gdpr.delayReason}`);
  }
  for (const [label, text] of [
    ['facts', r.facts],
    ['effects', r.effects],
    ['remedial action', r.remedialAction],
    ['notes', r.notes],
    ['summary', r.summary],
  ] as const) {
    if (text) lines.push(`${label}: ${text}`);
  }
  // Art. 33(5) asks for all three; say what is still missing rather than let the record look complete.
  if (r.personalData) {
    const missing = [!r.facts && 'facts', !r.effects && 'effects', !r.remedialAction && 'remedial action'].filter(Boolean);
    if (missing.length > 0) lines.push(`not yet documented: ${missing.join(', ')}`);
  }
  return lines.join('\n');
}
