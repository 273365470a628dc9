import { commandStep } from './command-step.js';
import type { StepExecutors } from './execution-runner.js';
import { httpStep } from './http-step.js';
import { notifyStep } from './notify-step.js';
import { backupStep, restoreStep, verifyStep } from './backup-service-steps.js';
import { sqlStep } from './sql-step.js';
import { tcpStep } from './tcp-step.js';
import { waitStep } from './wait-step.js';

/** One executor per step type (approval steps are the executor's own: they wait on the catalog). */
export const stepExecutors: StepExecutors = {
  restore: restoreStep,
  backup: backupStep,
  verify: verifyStep,
  command: commandStep,
  http: httpStep,
  tcp: tcpStep,
  sql: sqlStep,
  wait: waitStep,
  notify: notifyStep,
};
