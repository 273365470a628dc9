import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const SSHD = '/usr/sbin/sshd';
export const sshdAvailable = existsSync(SSHD) && existsSync('/usr/lib/openssh/sftp-server');

export interface SftpServer {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  knownHostsPath: string;
  /** A directory on the server that the tests write under. */
  root: string;
  /** Kills sshd and every session process it started, as a crash of the server would. */
  kill(): void;
  stop(): Promise<void>;
}

/** The pids below `pid` in the process tree, read from /proc (sshd forks a process per session). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the 4th field, after the command name in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited while we looked.
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      visit(c);
    }
  };
  visit(pid);
  return out;
}

/**
 * OpenSSH's sshd with its sftp-server, on loopback, on a free port, with a throwaway
 * host key and client key; logs in as the current user with the client key only.
 */
export async function startSftpServer(): Promise<SftpServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bkdr-sshd-'));
  const root = join(dir, 'files');
  await mkdir(root);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')), { mode: 0o600 });
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const username = userInfo().username;
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_key')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        `AllowUsers ${username}`,
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const listening = await new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (/Server listening/.test(stderr)) {
          clearInterval(poll);
          resolve(true);
        } else if (child.exitCode !== null || Date.now() - started > 10_000) {
          clearInterval(poll);
          resolve(false);
        }
      }, 25);
    });
    if (!listening) {
      lastError = stderr;
      child.kill('SIGKILL');
      continue;
    }
    const hostKey = (await readFile(join(dir, 'host_key.pub'), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    await writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
    return {
      host: '127.0.0.1',
      port,
      username,
      privateKeyPath: join(dir, 'client_key'),
      knownHostsPath: join(dir, 'known_hosts'),
      root,
      kill: () => {
        const pids = child.pid ? descendants(child.pid) : [];
        child.kill('SIGKILL');
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      },
      stop: async () => {
        child.kill('SIGTERM');
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`sshd did not start: ${lastError}`);
}
