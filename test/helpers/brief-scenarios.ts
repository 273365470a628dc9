/** The product brief's three DR scenarios, verbatim: they must load unchanged (config and library). */
export const briefScenarios = [
  {
    id: 'db-failure',
    name: 'Database Complete Failure',
    description: 'Primary database server failure',
    severity: 'critical',
    rto: 30,
    rpo: 5,
    affectedSystems: ['database', 'api', 'web'],
    triggers: [
      { type: 'metric', condition: 'db_connection_failures > 10' },
      { type: 'health_check', condition: 'database_health == false' },
    ],
    recoveryPlans: ['database-recovery', 'cache-rebuild'],
  },
  {
    id: 'datacenter-outage',
    name: 'Complete Datacenter Outage',
    severity: 'critical',
    rto: 60,
    rpo: 15,
    affectedSystems: ['all'],
    triggers: [{ type: 'external', condition: 'datacenter_power_failure' }],
    recoveryPlans: ['failover-to-secondary', 'dns-update', 'data-sync'],
  },
  {
    id: 'database-corruption',
    name: 'Database Corruption',
    severity: 'high',
    rto: 120,
    rpo: 60,
    affectedSystems: ['database'],
    triggers: [{ type: 'log', condition: 'ERROR.*database.*corruption' }],
    recoveryPlans: ['point-in-time-recovery', 'data-validation'],
  },
];
