import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace } from '../helpers/cli.js';

/**
 * `bc incident` through the built CLI (`npm run build` first), as an operator or a DPO
 * would use it: the GDPR art. 33 record of a breach, and the incident a DR execution opens.
 */

interface IncidentJson {
  id: string;
  title: string;
  closedAt: string | null;
  executionId: string | null;
  personalData: boolean;
  summary: string | null;
  gdpr: { dueAt: string; notifiedAt: string | null; status: string; hoursLeft: number | null } | null;
}

describe('bc incident through the CLI', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-incident-e2e-');
    const src = join(tmp.path, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'a.txt'), 'alpha\n');
    ws = await makeWorkspace(tmp.path, [src], {
      // The scenario's system holds personal data: the incident its execution opens has a GDPR clock.
      systems: [{ name: 'files', criticality: 'high', personalData: true }],
      scenarios: [{ id: 'flip', name: 'scenario flip', severity: 'high', rto: 30, rpo: 60, affectedSystems: ['files'], triggers: [], recoveryPlans: ['flip-plan'] }],
      recoveryPlans: { 'flip-plan': { steps: [{ id: 'ok', type: 'command', command: 'true' }] } },
    });
  });
  afterAll(async () => {
    await tmp.cleanup();
  });

  const list = async (...args: string[]): Promise<IncidentJson[]> => {
    const r = await ws.run(['--json', 'bc', 'incident', 'list', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as IncidentJson[];
  };

  it('opens a personal-data breach, shows its 72-hour clock, records the notification, and closes only with a summary', async () => {
    const opened = await ws.run(['--json', 'bc', 'incident', 'open', '--title', 'customer export exposed', '--severity', 'high', '--personal-data', '--facts', 'public link']);
    expect(opened.code, opened.stderr).toBe(0);
    const { id } = JSON.parse(opened.stdout) as IncidentJson;

    const [listed] = await list('--open');
    expect(listed).toMatchObject({ id, title: 'customer export exposed', personalData: true, closedAt: null, gdpr: { status: 'open', notifiedAt: null } });
    expect(listed!.gdpr!.hoursLeft).toBeGreaterThan(71);
    const human = await ws.run(['bc', 'incident', 'list']);
    expect(human.stdout).toMatch(/due in 7[12]h/);

    const notified = await ws.run(['--json', 'bc', 'incident', 'notify', id.slice(0, 8)]);
    expect(notified.code, notified.stderr).toBe(0);
    expect((JSON.parse(notified.stdout) as IncidentJson).gdpr).toMatchObject({ status: 'notified', hoursLeft: null });
    expect((await ws.run(['bc', 'incident', 'list'])).stdout).toMatch(/notified \d+m after/);

    const updated = await ws.run(['--json', 'bc', 'incident', 'update', id, '--effects', '40 customers', '--remedial-action', 'link revoked']);
    expect(updated.code, updated.stderr).toBe(0);

    const refused = await ws.run(['bc', 'incident', 'close', id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--summary/);
    const empty = await ws.run(['bc', 'incident', 'close', id, '--summary', ' ']);
    expect(empty.code).toBe(2);

    const closed = await ws.run(['--json', 'bc', 'incident', 'close', id, '--summary', 'contained; authority notified in time']);
    expect(closed.code, closed.stderr).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject({ id, summary: 'contained; authority notified in time', closedAt: expect.any(String) });
    expect(await list('--open')).toEqual([]);

    const audit = await ws.run(['--json', 'audit', 'list']);
    const actions = (JSON.parse(audit.stdout) as { action: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['incident.open', 'incident.notify', 'incident.update', 'incident.close']));
  });

  it("lists a DR execution's incident with its execution id, closed when the execution succeeds", async () => {
    const triggered = await ws.run(['--json', 'dr', 'trigger', 'flip', '--yes']);
    expect(triggered.code, triggered.stderr).toBe(0);
    const execution = JSON.parse(triggered.stdout) as { id: string; status: string };
    expect(execution.status).toBe('succeeded');

    const incident = (await list()).find((i) => i.executionId === execution.id);
    expect(incident).toMatchObject({ executionId: execution.id, personalData: true, closedAt: expect.any(String), summary: expect.stringContaining(`recovered by DR execution ${execution.id}`) });
    expect(incident!.gdpr!.status).toBe('open');
  });
});
