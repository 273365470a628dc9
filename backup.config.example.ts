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

  // Disaster recovery (CLI.md "Disaster recovery and continuity: configuration").
  // Durations: a number is minutes (the brief's rto: 30), a string takes units ('30s', '1h').
  monitoring: {
    logs: { postgres: ['/var/log/postgresql/*.log'] },
    metrics: { url: 'http://127.0.0.1:9187/metrics' },
    healthChecks: {
      database_health: { type: 'tcp', target: 'db.internal:5432', interval: '30s', timeout: '5s', failures: 3 },
      app_health: { type: 'http', url: 'https://app.example.com/healthz', expectStatus: 200, interval: '1m', failures: 5 },
    },
  },
  scenarios: [
    {
      id: 'db-failure',
      name: 'Primary database failure',
      severity: 'critical',
      rto: 60,
      rpo: 15,
      affectedSystems: ['app-database', 'web-app'],
      triggers: [
        { type: 'log', condition: 'FATAL: database system is shut down' },
        { type: 'health_check', condition: 'database_health == false' },
        { type: 'metric', condition: 'pg_up == 0', for: '2m' },
      ],
      recoveryPlans: ['restore-database'],
    },
    {
      id: 'datacenter-outage',
      name: 'Loss of the primary data center',
      severity: 'critical',
      rto: '4h',
      rpo: '1h',
      affectedSystems: ['app-database', 'web-app'],
      triggers: [
        { type: 'health_check', condition: 'app_health == false' },
        { type: 'external', condition: 'DatacenterDown' },
      ],
      automatic: false,
      recoveryPlans: [{ planId: 'failover-datacenter', priority: 1 }],
    },
  ],
  recoveryPlans: {
    'restore-database': {
      owner: 'dba',
      steps: [
        { id: 'restore', type: 'restore', source: 'database', at: 'latest', target: '/var/lib/postgresql/15/restored', timeout: '30m', test: { target: '/tmp/bkdr-drill/pg' } },
        {
          id: 'restart-db',
          type: 'command',
          command: 'systemctl restart postgresql',
          dependsOn: ['restore'],
          retries: 2,
          rollback: { type: 'command', command: 'systemctl stop postgresql' },
          test: 'skip',
        },
        { id: 'check', type: 'sql', source: 'database', query: 'SELECT 1', expect: 1, dependsOn: ['restart-db'], timeout: '2m' },
        { id: 'notify', type: 'notify', webhook: 'https://hooks.example.com/ops', message: 'database restored', dependsOn: ['check'] },
      ],
    },
    'failover-datacenter': {
      owner: 'infrastructure',
      steps: [
        { id: 'approve', type: 'approval', approvers: ['oncall-lead'], message: 'fail over to the DR site?' },
        { id: 'restore-files', type: 'restore', source: 'files', from: 'offsite', target: '/srv/app', dependsOn: ['approve'] },
        { id: 'restore-db', type: 'restore', source: 'database', from: 'offsite', dependsOn: ['approve'] },
        {
          id: 'dns',
          type: 'command',
          command: './scripts/switch-dns.sh dr-site',
          dependsOn: ['restore-files', 'restore-db'],
          rollback: { type: 'command', command: './scripts/switch-dns.sh primary' },
        },
        { id: 'check', type: 'http', url: 'https://app.example.com/healthz', expectStatus: 200, dependsOn: ['dns'] },
        { id: 'notify', type: 'notify', webhook: 'https://hooks.example.com/exec', message: 'failover complete', dependsOn: ['check'] },
      ],
    },
  },
  drTests: { quarterly: { type: 'e2e', scenarios: ['db-failure'], schedule: { type: 'cron', expression: '0 3 1 */3 *' } } },

  systems: [
    { name: 'app-database', criticality: 'critical', rto: '1h', rpo: '15m', mtpd: '8h', dependencies: [], sources: ['database'], personalData: true, tags: ['sox'] },
    { name: 'web-app', criticality: 'high', rto: '4h', rpo: '1h', mtpd: '24h', dependencies: ['app-database'], sources: ['files'] },
  ],
  risks: [
    { id: 'R-1', title: 'Ransomware encrypts production data', likelihood: 3, impact: 5, owner: 'security', treatment: 'mitigate', mitigations: ['offsite encrypted copies', 'object lock'] },
    { id: 'R-2', title: 'Single data center', likelihood: 2, impact: 5, owner: 'infrastructure', treatment: 'mitigate', mitigations: ['datacenter-outage scenario'] },
  ],
  kpiThresholds: {
    backup_success_rate: { warning: 98, critical: 95 },
    hours_since_last_backup: { warning: 26, critical: 48 },
  },
  complianceFrameworks: ['SOX', 'ISO-22301', 'NIST-CSF', 'GDPR'],
});
