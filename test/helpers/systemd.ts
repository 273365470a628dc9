import { execFileSync } from 'node:child_process';

/** Whether this machine has systemd-analyze, which checks units and calendar expressions as systemd itself would. */
export const systemdAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
