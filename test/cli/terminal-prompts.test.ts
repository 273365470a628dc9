import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bkdrBin, makeTempDir } from '../helpers/cli.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

const ENTER = '\r';
const CTRL_C = '\u0003';
/** readline's "delete to the start of the line": inquirer keeps a rejected answer on the line. */
const CLEAR_LINE = '\u0015';
const BACKSPACE = '\u007f';

interface Terminal {
  /** Waits until the screen shows `text` after what was last waited for, then types `keys`. */
  answer(text: string | RegExp, keys: string): Promise<void>;
  waitFor(text: string | RegExp): Promise<void>;
  exit: Promise<{ code: number | null; screen: string }>;
}

/**
 * Runs bkdr on a pseudo-terminal, as a person at a keyboard would: util-linux
 * `script` gives the child a pty (stdin and stderr are TTYs, so the wizard runs).
 */
function runOnTerminal(args: string[], cwd: string, children: ChildProcessWithoutNullStreams[]): Terminal {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const child = spawn('script', ['-qfec', [process.execPath, bkdrBin, ...args].map(quote).join(' '), '/dev/null'], {
    cwd,
    // no password from the environment: the password prompt is one of those under test
    env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', BKDR_CONFIG: '', BKDR_CATALOG: join(cwd, 'catalog.db'), BKDR_PASSWORD: '', BKDR_PASSWORD_FILE: '', BKDR_PASSWORD_COMMAND: '' },
  });
  children.push(child);
  let screen = '';
  let seen = 0;
  const waiters = new Set<() => void>();
  const onOutput = (d: Buffer) => {
    // without the cursor movements and colours (ESC [ ... letter), what is left reads like the screen
    screen += d.toString().replace(/\p{Cc}\[[\d;?]*[A-Za-z]/gu, '');
    for (const check of waiters) check();
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const exit = new Promise<{ code: number | null; screen: string }>((resolve) =>
    child.on('exit', (code) => {
      child.stdin.end();
      resolve({ code, screen });
    }),
  );
  const waitFor = (text: string | RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        const rest = screen.slice(seen);
        const match = typeof text === 'string' ? { index: rest.indexOf(text), length: text.length } : { index: rest.search(text), length: rest.match(text)?.[0].length ?? 0 };
        if (match.index < 0) return;
        seen += match.index + match.length;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`waited 5 s for ${String(text)}; the screen after the last answer:\n${screen.slice(seen)}`));
      }, 5_000);
      waiters.add(check);
      check();
    });
  return {
    waitFor,
    answer: async (text, keys) => {
      await waitFor(text);
      child.stdin.write(keys);
    },
    exit,
  };
}

describe.skipIf(!hasScript)('prompts on a terminal: the init wizard, the password (needs util-linux script for a pty; skipped without it)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  const children: ChildProcessWithoutNullStreams[] = [];
  beforeAll(async () => (tmp = await makeTempDir('bkdr-wizard-')));
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill();
  });
  afterAll(() => tmp.cleanup());

  /** Answers every prompt up to the cron one with its default, for a local repository. */
  async function upToCron(t: Terminal, data: string): Promise<void> {
    await t.answer('paths to back up', `${data}${ENTER}`);
    await t.answer('destination', ENTER); // the first choice: a local directory
    await t.answer('repository directory', ENTER);
    await t.answer('encrypt the repository', ENTER);
    await t.answer('password file', ENTER);
  }

  it('an empty cron answer means no schedule', async () => {
    const dir = join(tmp.path, 'empty-cron');
    await mkdir(dir);
    const t = runOnTerminal(['init', '--format', 'json'], dir, children);
    await upToCron(t, dir);
    await t.answer(/cron schedule.*0 2 \* \* \*/, ENTER);
    const { code, screen } = await t.exit;
    expect(code, screen).toBe(0);
    const config = JSON.parse(await readFile(join(dir, 'backup.config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['schedule']).toBeUndefined();
  });

  it('asks again for a wrong cron expression where it is asked, keeping the answers before it', async () => {
    const dir = join(tmp.path, 'bad-cron');
    await mkdir(dir);
    const t = runOnTerminal(['init', '--format', 'json'], dir, children);
    await upToCron(t, dir);
    await t.answer('cron schedule', `every tuesday${ENTER}`);
    await t.answer('> a cron expression has 5 or 6 fields', `${CLEAR_LINE}61 2 * * *${ENTER}`);
    await t.answer("> '61 2 * * *' is not a valid cron expression", `${CLEAR_LINE}0 3 * * 2${ENTER}`);
    const { code, screen } = await t.exit;
    expect(code, screen).toBe(0);
    const config = JSON.parse(await readFile(join(dir, 'backup.config.json'), 'utf8')) as { schedule?: unknown; sources: unknown };
    expect(config.schedule).toEqual({ type: 'cron', expression: '0 3 * * 2', timezone: 'UTC' });
    expect(config.sources).toEqual({ files: { type: 'files', paths: [dir] } });
  });

  it('asks again when no path to back up is given', async () => {
    const dir = join(tmp.path, 'no-paths');
    await mkdir(dir);
    const t = runOnTerminal(['init', '--format', 'json'], dir, children);
    await t.answer('paths to back up', `${BACKSPACE}${ENTER}`); // Backspace on an empty line drops the default
    await t.answer('> name at least one path', ` , ${dir}${ENTER}`);
    await t.answer('destination', CTRL_C);
    expect((await t.exit).code).toBe(130);
  });

  it('Ctrl-C in the init wizard exits 130, writing nothing', async () => {
    const dir = join(tmp.path, 'ctrl-c');
    await mkdir(dir);
    const t = runOnTerminal(['init', '--format', 'json'], dir, children);
    await upToCron(t, dir);
    await t.answer('cron schedule', CTRL_C);
    const { code, screen } = await t.exit;
    expect(code, screen).toBe(130);
    expect(screen).toMatch(/^bkdr: interrupted\r?$/m);
    expect(existsSync(join(dir, 'backup.config.json'))).toBe(false);
  });

  it('Ctrl-C at the password prompt exits 130 too', async () => {
    const dir = join(tmp.path, 'password');
    await mkdir(dir);
    const config = join(dir, 'backup.config.json');
    await writeFile(config, JSON.stringify({ sources: { files: { type: 'files', paths: [dir] } }, destinations: [{ type: 'local', config: { path: join(dir, 'repo') } }] }));
    const t = runOnTerminal(['-c', config, 'backup', 'run'], dir, children);
    await t.answer('repository password', CTRL_C);
    const { code, screen } = await t.exit;
    expect(code, screen).toBe(130);
    expect(screen).toMatch(/^bkdr: interrupted\r?$/m);
  });
  it('dr trigger asks first on a terminal: no runs nothing (exit 2), yes runs the plan', async () => {
    const dir = join(tmp.path, 'dr-trigger');
    await mkdir(dir);
    const config = join(dir, 'backup.config.json');
    await writeFile(
      config,
      JSON.stringify({
        sources: { files: { type: 'files', paths: [dir] } },
        destinations: [{ type: 'local', config: { path: join(dir, 'repo') } }],
        scenarios: [{ id: 'web-down', name: 'Web down', severity: 'high', rto: 5, rpo: 5, affectedSystems: ['web'], triggers: [], recoveryPlans: ['restart'] }],
        recoveryPlans: { restart: { steps: [{ id: 'mark', type: 'command', command: `touch ${join(dir, 'ran')}` }] } },
      }),
    );
    const no = runOnTerminal(['-c', config, 'dr', 'trigger', 'web-down'], dir, children);
    await no.answer(/run scenario web-down: 1 steps \(restart\/mark\)\?/, `n${ENTER}`);
    const refused = await no.exit;
    expect(refused.code, refused.screen).toBe(2);
    expect(refused.screen).toMatch(/cancelled; nothing was run/);
    expect(existsSync(join(dir, 'ran'))).toBe(false);

    const yes = runOnTerminal(['-c', config, 'dr', 'trigger', 'web-down'], dir, children);
    await yes.answer('run scenario web-down', `y${ENTER}`);
    const ran = await yes.exit;
    expect(ran.code, ran.screen).toBe(0);
    expect(existsSync(join(dir, 'ran'))).toBe(true);
  });
});
