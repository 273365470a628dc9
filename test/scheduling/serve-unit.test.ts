import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildServeUnit, type UnitTarget } from '../../src/scheduling/unit-files.js';
import { systemdAnalyze } from '../helpers/systemd.js';

const target: UnitTarget = { configPath: '/etc/bkdr/backup.config.json', launcher: ['/usr/bin/node', '/opt/bkdr/bin/bkdr.js'], environment: [], passwordNote: undefined };
const lines = (...l: string[]) => `${l.join('\n')}\n`;
const header = [
  '# bkdr API server for /etc/bkdr/backup.config.json (bkdr serve install --systemd)',
  '# save as /etc/systemd/system/bkdr-serve.service, then: systemctl daemon-reload && systemctl enable --now bkdr-serve',
];
const unit = (exec: string, extra: string[] = []) => [
  '',
  '[Unit]',
  'Description=bkdr API server (GraphQL, /metrics, /healthz, webhooks)',
  'Wants=network-online.target',
  'After=network-online.target',
  '',
  '[Service]',
  'Type=simple',
  ...extra,
  `ExecStart=${exec}`,
  'Restart=on-failure',
  'RestartSec=5s',
  'KillSignal=SIGTERM',
  'TimeoutStopSec=60s',
  'NoNewPrivileges=yes',
  '',
  '[Install]',
  'WantedBy=multi-user.target',
];
const serveCommand = '/usr/bin/node /opt/bkdr/bin/bkdr.js -c /etc/bkdr/backup.config.json serve';

describe('buildServeUnit', () => {
  it.each<{ name: string; serve: Parameters<typeof buildServeUnit>[1]; target?: UnitTarget; runAs?: string; expected: string }>([
    {
      name: 'a simple service on loopback, restarted on failure and given a minute to stop gracefully',
      serve: { host: '127.0.0.1', port: 8080 },
      expected: lines(...header, ...unit(`${serveCommand} --host 127.0.0.1 --port 8080`)),
    },
    {
      name: 'a non-root installer is the User=, as for the schedule units',
      serve: { host: '::1', port: 9090 },
      runAs: 'backup',
      expected: lines(...header, ...unit(`${serveCommand} --host ::1 --port 9090`, ['# the user who ran `bkdr serve install`: the same catalog and file access as `bkdr serve`', 'User=backup'])),
    },
    {
      name: 'all interfaces without TLS: a NOTE that the tokens would cross the network in clear',
      serve: { host: '0.0.0.0', port: 8443 },
      expected: lines(
        ...header,
        '# NOTE: the API listens on 0.0.0.0, reachable from the network, and without TLS its bearer tokens cross it in clear: pass --cert and --key',
        ...unit(`${serveCommand} --host 0.0.0.0 --port 8443`),
      ),
    },
    {
      name: 'all interfaces with TLS: the certificate and key go on the command line, and the NOTE still says the API faces the network',
      serve: { host: '0.0.0.0', port: 8443, cert: '/etc/bkdr/tls/cert.pem', key: '/etc/bkdr/tls/key.pem' },
      expected: lines(
        ...header,
        '# NOTE: the API listens on 0.0.0.0, reachable from the network; only its bearer tokens and TLS guard it',
        ...unit(`${serveCommand} --host 0.0.0.0 --port 8443 --cert /etc/bkdr/tls/cert.pem --key /etc/bkdr/tls/key.pem`),
      ),
    },
    {
      name: 'the password note and the carried environment; paths with spaces are quoted, % and $ kept literal',
      serve: { host: 'localhost', port: 8080, cert: '/etc/my certs/50%.pem', key: '/etc/my certs/$key.pem' },
      target: {
        configPath: '/srv/my backups/bkdr.json',
        launcher: ['/usr/bin/node', '/opt/my bkdr/bin/bkdr.js'],
        environment: [
          ['BKDR_CATALOG', '/var/lib/my bkdr/catalog.db'],
          ['BKDR_PASSWORD_FILE', '/etc/bkdr/pw%$file'],
        ],
        passwordNote: 'the repositories are encrypted',
      },
      expected: lines(
        '# bkdr API server for /srv/my backups/bkdr.json (bkdr serve install --systemd)',
        header[1]!,
        '# NOTE: the repositories are encrypted',
        ...unit('/usr/bin/node "/opt/my bkdr/bin/bkdr.js" -c "/srv/my backups/bkdr.json" serve --host localhost --port 8080 --cert "/etc/my certs/50%%.pem" --key "/etc/my certs/$$key.pem"', [
          'Environment="BKDR_CATALOG=/var/lib/my bkdr/catalog.db"',
          'Environment=BKDR_PASSWORD_FILE=/etc/bkdr/pw%%$$file',
        ]),
      ),
    },
  ])('$name', ({ serve, target: t, runAs, expected }) => {
    expect(buildServeUnit(t ?? target, serve, runAs)).toBe(expected);
  });

  it.each(['0.0.0.0', '::', '192.168.1.10', 'backup.example.com'])('%s is not loopback: the unit says so', (host) => {
    expect(buildServeUnit(target, { host, port: 8080 }, undefined)).toContain(`# NOTE: the API listens on ${host}, reachable from the network`);
  });

  it.each(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])('%s is loopback: no network NOTE', (host) => {
    expect(buildServeUnit(target, { host, port: 8080 }, undefined)).not.toContain('# NOTE');
  });

  it.skipIf(!systemdAnalyze)('systemd-analyze verify accepts the unit, with User=, environment, TLS and quoted paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bkdr-serve-unit-'));
    try {
      const file = join(dir, 'bkdr-serve.service');
      const t: UnitTarget = {
        configPath: join(dir, 'my config', 'bkdr.json'),
        // verify checks that ExecStart's program exists; node does, bkdr's script need not.
        launcher: [process.execPath, join(dir, 'bin dir', 'bkdr.js')],
        environment: [['BKDR_CATALOG', join(dir, 'cat 100%.db')]],
        passwordNote: 'the repositories are encrypted',
      };
      await writeFile(file, buildServeUnit(t, { host: '0.0.0.0', port: 8443, cert: join(dir, 'tls dir', 'cert.pem'), key: join(dir, 'tls dir', '$key.pem') }, userInfo().username));
      // verify exits non-zero only on a unit systemd would refuse; a setting it ignores (a misspelt
      // value, an unknown key) is just a line on stderr, so that must be empty too.
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      expect({ status: verify.status, stderr: verify.stderr }).toEqual({ status: 0, stderr: '' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
