/**
 * A health_check trigger's condition: `name == false` or `!name` fire when the check goes
 * down, `name == true` or `name` when it comes up (read literally: the trigger fires when
 * the expression becomes true).
 */
export interface HealthCondition {
  check: string;
  firesWhen: 'down' | 'up';
}

const FORM = /^\s*(!?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:==\s*(true|false)\s*)?$/;

export function parseHealthCondition(condition: string): HealthCondition {
  const m = FORM.exec(condition);
  if (!m || (m[1] === '!' && m[3] !== undefined)) throw new Error(`'${condition}' is not 'name == false', 'name == true', 'name' or '!name'`);
  const negated = m[1] === '!' || m[3] === 'false';
  return { check: m[2]!, firesWhen: negated ? 'down' : 'up' };
}
