import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, makeWorkspace, runBkdr } from '../helpers/cli.js';

// Runs the built CLI: `npm run build` first.

const CHROMIUM = '/usr/bin/chromium';
const chromiumAvailable = existsSync(CHROMIUM);
if (!chromiumAvailable && process.env['CI']) throw new Error('CI must install chromium for the dashboard HTML test');

interface Dashboard {
  generatedAt: string;
  summaryMetrics: Record<string, number | null>;
  kpis: { name: string; value: number | null; status: string }[];
  frameworks: { framework: string; score: number; at: string; failed: number }[];
  risks: { exposure: { score: number; byLevel: Record<string, number>; unscored: number }; heatMap: number[][]; top: { id: string; title: string; score: number }[] };
  recentExecutions: unknown[];
  backupRunsByDay: { day: string; succeeded: number; failed: number }[];
  readiness: { systems: { name: string; ready: boolean; reasons: string[] }[] };
}

const PERCENT = new Set(['overallAvailability', 'businessContinuityReadiness', 'complianceScore', 'backupSuccessRate']);
/** How a headline figure reads on the page and in the terminal, spelled out here rather than imported, so the test checks the renderer. */
const spelled = (key: string, value: number | null): string => (value === null ? 'no data' : PERCENT.has(key) ? `${value.toFixed(1)} %` : String(value));

/** A risk title that would fetch `x` and run script if it reached the page unescaped. */
const HOSTILE_TITLE = 'Ransomware <img src=x onerror=alert(1)> & "friends"';

describe('bkdr bc dashboard', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let ws: Awaited<ReturnType<typeof makeWorkspace>>;
  let model: Dashboard;

  beforeAll(async () => {
    tmp = await makeTempDir('bkdr-bc-dashboard-');
    const data = join(tmp.path, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'ledger.csv'), 'account,amount\n4711,120.50\n');
    // `unreachable` is a local destination whose path is a FILE: its repository can never be created.
    const notADir = join(tmp.path, 'not-a-dir');
    await writeFile(notADir, 'a file where a repository should go\n');
    ws = await makeWorkspace(tmp.path, [data], {
      destinations: [
        { name: 'local', type: 'local', config: { path: join(tmp.path, 'repo') } },
        { name: 'unreachable', type: 'local', config: { path: notADir } },
      ],
      systems: [{ name: 'ledger', criticality: 'critical', rto: 30, rpo: 1440, mtpd: 240, sources: ['files'] }],
    });
    for (let i = 0; i < 2; i++) expect((await ws.run(['backup', 'run', '--destination', 'local'])).code).toBe(0);
    expect((await ws.run(['backup', 'run', '--destination', 'unreachable'])).code).toBe(1);
    for (const args of [
      ['--title', HOSTILE_TITLE, '--likelihood', '4', '--impact', '5', '--owner', 'Ops'],
      ['--title', 'Backup operator leaves', '--likelihood', '2', '--impact', '3'],
      ['--title', 'Closed before the dashboard', '--likelihood', '5', '--impact', '5'],
    ])
      expect((await ws.run(['bc', 'risk', 'add', ...args])).code).toBe(0);
    expect((await ws.run(['bc', 'risk', 'close', 'R-3', '--reason', 'retired system'])).code).toBe(0);
    const assess = await ws.run(['compliance', 'assess', 'SOX']);
    expect(assess.code, assess.stderr).toBe(0);

    const json = await ws.run(['--json', 'bc', 'dashboard']);
    expect(json.code, json.stderr).toBe(0);
    model = JSON.parse(json.stdout) as Dashboard;
  }, 120_000);

  afterAll(() => tmp?.cleanup());

  it('--json measures every figure from the records', async () => {
    const m = model.summaryMetrics;
    // 2 of 3 finished backup runs succeeded; the run against `unreachable` failed.
    expect(m['backupSuccessRate']).toBeCloseTo(200 / 3, 10);
    // Open risks only: 4 × 5 + 2 × 3; the closed 5 × 5 adds nothing.
    expect(m['riskExposure']).toBe(26);
    expect(model.risks.heatMap[3]![4]).toBe(1);
    expect(model.risks.heatMap[1]![2]).toBe(1);
    expect(model.risks.heatMap[4]![4]).toBe(0);
    expect(model.risks.heatMap.flat().reduce((a, b) => a + b, 0)).toBe(2);
    expect(model.risks.top.map((r) => [r.id, r.score])).toEqual([
      ['R-1', 20],
      ['R-2', 6],
    ]);
    // Nothing measured availability: no health-check samples, so no figure, never 100.
    expect(m['overallAvailability']).toBeNull();
    expect(m['openIncidents']).toBe(0);
    expect(m['gdprClocksOpen']).toBe(0);

    // The compliance score is the SOX assessment's own, as `compliance list` keeps it.
    const list = JSON.parse((await ws.run(['--json', 'compliance', 'list'])).stdout) as { framework: string; overallCompliance: number; at: string }[];
    expect(model.frameworks).toEqual([expect.objectContaining({ framework: 'SOX', score: list[0]!.overallCompliance, at: list[0]!.at })]);
    expect(m['complianceScore']).toBe(list[0]!.overallCompliance);

    // The KPIs are `bc kpi`'s, and criticalKpis counts its critical ones.
    const kpis = (JSON.parse((await ws.run(['--json', 'bc', 'kpi'])).stdout) as { kpis: { name: string; status: string }[] }).kpis;
    expect(model.kpis.map((k) => [k.name, k.status])).toEqual(kpis.map((k) => [k.name, k.status]));
    expect(m['criticalKpis']).toBe(kpis.filter((k) => k.status === 'critical').length);
    expect(m['criticalKpis']).toBeGreaterThanOrEqual(1);

    // The critical system has fresh backups but was never exercised nor verified: not ready, and the reasons say why.
    expect(m['businessContinuityReadiness']).toBe(0);
    expect(model.readiness.systems).toEqual([{ name: 'ledger', ready: false, reasons: expect.arrayContaining([expect.stringMatching(/no scenario covering it has run successfully/)]) as unknown }]);

    expect(model.backupRunsByDay).toHaveLength(30);
    expect(model.backupRunsByDay.at(-1)).toEqual({ day: model.generatedAt.slice(0, 10), succeeded: 2, failed: 1 });
    expect(model.backupRunsByDay.slice(0, -1).every((d) => d.succeeded === 0 && d.failed === 0)).toBe(true);
    expect(model.recentExecutions).toEqual([]);
  });

  it('without critical systems readiness is no data, not 100 %', async () => {
    const base = JSON.parse(await readFile(ws.config, 'utf8')) as Record<string, unknown>;
    const noSystems = join(tmp.path, 'no-systems.config.json');
    await writeFile(noSystems, JSON.stringify({ ...base, systems: [] }));
    const r = await runBkdr(['-c', noSystems, '--json', 'bc', 'dashboard'], { cwd: tmp.path, env: ws.env });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Dashboard).summaryMetrics['businessContinuityReadiness']).toBeNull();
  });

  it('the terminal view fits 100 columns and shows the headline figures', async () => {
    const r = await ws.run(['bc', 'dashboard']);
    expect(r.code, r.stderr).toBe(0);
    expect(Math.max(...r.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(r.stdout).toMatch(/backup success\s+│ 66\.7 %/);
    expect(r.stdout).toMatch(/risk exposure\s+│ 26 /);
    expect(r.stdout).toMatch(/availability\s+│ no data/);
    expect(r.stdout).toMatch(/backup runs, 30 days: 2 succeeded, 1 failed/);
    // No colour when not a terminal.
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('--html replaces an existing file whole, leaves no temp file, and names a file it cannot write in one line', async () => {
    const pages = join(tmp.path, 'pages');
    await mkdir(pages);
    const out = join(pages, 'dashboard.html');
    await writeFile(out, 'an older dashboard');
    const r = await ws.run(['bc', 'dashboard', '--html', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toMatch(/^<!DOCTYPE html>[\s\S]*<\/html>\n$/);
    expect(await readdir(pages)).toEqual(['dashboard.html']);

    const missing = await ws.run(['bc', 'dashboard', '--html', join(tmp.path, 'no-such-dir', 'd.html')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim()).toMatch(/^bkdr: cannot write the dashboard to .*no-such-dir\/d\.html: ENOENT$/);
  });

  it.skipIf(!chromiumAvailable)(
    '--html writes one self-contained page that headless Chromium renders offline, with the --json figures',
    async () => {
      const out = join(tmp.path, 'out.html');
      const r = await ws.run(['bc', 'dashboard', '--html', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(out);
      const html = await readFile(out, 'utf8');
      expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
      expect(html).toContain('Ransomware &lt;img src=x onerror=alert(1)&gt; &amp; &quot;friends&quot;');

      const { default: puppeteer } = await import('puppeteer-core');
      const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
      try {
        const page = await browser.newPage();
        await page.setViewport({ width: 1280, height: 900 });
        const messages: string[] = [];
        const requests: string[] = [];
        page.on('console', (msg) => messages.push(`${msg.type()}: ${msg.text()}`));
        page.on('pageerror', (err) => messages.push(`pageerror: ${String(err)}`));
        page.on('request', (req) => requests.push(req.url()));
        await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });

        expect(messages).toEqual([]);
        expect(requests).toEqual([pathToFileURL(out).href]);

        const figures = await page.$$eval('[data-metric]', (els) =>
          els.map((el) => ({ metric: el.getAttribute('data-metric')!, value: el.getAttribute('data-value')!, text: el.textContent!.trim() })),
        );
        expect(figures.map((f) => f.metric).sort()).toEqual(Object.keys(model.summaryMetrics).sort());
        for (const f of figures) {
          const expected = model.summaryMetrics[f.metric]!;
          expect(f.text, f.metric).toBe(spelled(f.metric, expected));
          expect(f.value, f.metric).toBe(expected === null ? '' : String(expected));
        }
        // The hostile title is text on the page, not markup.
        expect(await page.$$eval('img', (els) => els.length)).toBe(0);
        expect(await page.$eval('body', (el) => el.textContent ?? '')).toContain(HOSTILE_TITLE);
        // Four charts: KPI tiles, backups per day, compliance, heat map; with no execution yet the fifth is a sentence.
        expect(await page.$$eval('svg', (els) => els.length)).toBeGreaterThanOrEqual(4);

        const shot = Buffer.from(await page.screenshot({ type: 'png', fullPage: true }));
        await writeFile(join(tmp.path, 'dashboard.png'), shot);
        // A blank or unstyled page has a handful of colours; the tiles, bars and heat map have many more.
        expect(distinctColours(shot)).toBeGreaterThan(50);

        // Printed to PDF (the @media print rules apply): a real document, every headline figure still laid out.
        await page.emulateMediaType('print');
        for (const handle of await page.$$('[data-metric]')) expect(await handle.boundingBox()).not.toBeNull();
        const pdf = Buffer.from(await page.pdf({ format: 'A4' }));
        expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
        expect(pdf.length).toBeGreaterThan(10_000);

        const blank = await browser.newPage();
        await blank.setViewport({ width: 1280, height: 900 });
        expect(distinctColours(Buffer.from(await blank.screenshot({ type: 'png' })))).toBeLessThan(5);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});

/** Distinct RGB(A) values of an 8-bit, non-interlaced truecolour PNG (what Chromium writes): just enough of PNG to tell a page from a blank. */
function distinctColours(png: Buffer): number {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.subarray(offset + 4, offset + 8).toString('latin1');
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      expect([body[8], body[12]]).toEqual([8, 0]);
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      expect(channels, `colour type ${body[9]}`).toBeGreaterThan(0);
    } else if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const colours = new Set<string>();
  let previous = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? line[x - channels]! : 0;
      const b = previous[x]!;
      const c = x >= channels ? previous[x - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const add = [0, a, b, (a + b) >> 1, paeth][filter]!;
      line[x] = (line[x]! + add) & 0xff;
    }
    for (let x = 0; x < stride; x += channels) colours.add(line.subarray(x, x + channels).toString('hex'));
    previous = line;
  }
  return colours.size;
}
