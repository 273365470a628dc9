// The product brief's full example as a bkdr config: `bkdr config validate -c backup.config.example.ts`.
import { defineConfig } from 'bkdr';

export default defineConfig({
  sources: {
    database: { type: 'postgres', url: 'postgres://backup@db.internal:5432/app', mode: 'physical' },
    files: { type: 'files', paths: ['/srv/app', '/etc/app'], exclude: ['**/node_modules/**', '**/*.tmp', '/srv/app/cache'] },
  },
  strategy: 'incremental',
  schedule: { type: 'cron', expression: '0 2 * * *', timezone: 'UTC' },
  retention: { daily: 7, weekly: 4, monthly: 12, yearly: 3 },
  prune: { schedule: { type: 'cron', expression: '30 4 * * 0', timezone: 'UTC' } }, // `bkdr schedule run` applies retention weekly
  destinations: [
    {
      name: 'offsite',
      type: 's3',
      priority: 1,
      encryption: true,
      config: {
        bucket: 'prod-backups',
        region: 'us-east-1',
        accessKeyId: process.env['AWS_ACCESS_KEY_ID'],
        secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'],
      },
    },
    { name: 'local', type: 'local', priority: 2, encryption: false, config: { path: '/backup/local' } },
  ],
  compression: { enabled: true, algorithm: 'lz4', level: 3 },
  verification: { enabled: true, checksumAlgorithm: 'sha256', testRestore: false },
  encryption: { passwordFile: '/etc/bkdr/password' },
  catalog: { path: '/var/lib/bkdr/catalog.db' },

  scenarios: [
    {
      id: 'db-failure',
      name: 'Primary database failure',
      triggers: [
        { type: 'log', path: '/var/log/postgresql/*.log', pattern: 'FATAL: database system is shut down' },
        { type: 'health', check: 'tcp', target: 'db.internal:5432', interval: '30s', failures: 3 },
      ],
      recoveryPlan: 'restore-database',
      rto: '1h',
      rpo: '15m',
      priority: 1,
    },
    {
      id: 'datacenter-outage',
      name: 'Loss of the primary data center',
      triggers: [
        { type: 'health', check: 'http', url: 'https://app.example.com/healthz', interval: '1m', failures: 5 },
        { type: 'alert', source: 'alertmanager', alertname: 'DatacenterDown' },
      ],
      recoveryPlan: 'failover-datacenter',
      rto: '4h',
      rpo: '1h',
      priority: 1,
    },
  ],
  recoveryPlans: {
    'restore-database': {
      steps: [
        { id: 'restore', type: 'restore', source: 'database', target: 'postgres://postgres@db-standby/app', timeout: '30m' },
        { id: 'restart-app', type: 'command', command: 'systemctl restart app', dependsOn: ['restore'], retries: 2 },
        { id: 'check', type: 'http', url: 'https://app.example.com/healthz', expectStatus: 200, dependsOn: ['restart-app'], timeout: '2m' },
        { id: 'notify', type: 'notify', channel: 'ops', message: 'database restored', dependsOn: ['check'] },
      ],
    },
    'failover-datacenter': {
      steps: [
        { id: 'approve', type: 'approval', approvers: ['oncall-lead'] },
        { id: 'restore-files', type: 'restore', source: 'files', destination: 'offsite', target: '/srv/app', dependsOn: ['approve'] },
        { id: 'restore-db', type: 'restore', source: 'database', destination: 'offsite', dependsOn: ['approve'] },
        { id: 'dns', type: 'command', command: './scripts/switch-dns.sh dr-site', dependsOn: ['restore-files', 'restore-db'] },
        { id: 'check', type: 'http', url: 'https://app.example.com/healthz', dependsOn: ['dns'] },
        { id: 'notify', type: 'notify', channel: 'exec', message: 'failover complete', dependsOn: ['check'] },
      ],
    },
  },

  systems: [
    { name: 'app-database', criticality: 'critical', rto: '1h', rpo: '15m', mtpd: '8h', dependencies: [] },
    { name: 'web-app', criticality: 'high', rto: '4h', rpo: '1h', mtpd: '24h', dependencies: ['app-database'] },
  ],
  risks: [
    { id: 'R-1', title: 'Ransomware encrypts production data', likelihood: 3, impact: 5, owner: 'security', mitigations: ['offsite encrypted copies', 'object lock'] },
    { id: 'R-2', title: 'Single data center', likelihood: 2, impact: 5, owner: 'infrastructure', mitigations: ['datacenter-outage scenario'] },
  ],
  kpiThresholds: {
    backupSuccessRate: { warning: 0.98, critical: 0.95 },
    hoursSinceLastBackup: { warning: 26, critical: 48 },
  },
  complianceFrameworks: ['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'],
});
