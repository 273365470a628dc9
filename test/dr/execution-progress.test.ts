import { describe, expect, it } from 'vitest';
import type { DrStepRecord } from '../../src/catalog/dr-executions-table.js';
import { executionProgress } from '../../src/dr/execution-progress.js';

const T0 = Date.parse('2026-12-05T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);

function step(id: string, weight: number, fields: Partial<DrStepRecord> = {}): DrStepRecord {
  return { id, planId: 'p', type: 'command', status: 'pending', attempts: 0, startedAt: null, endedAt: null, error: null, output: null, weight, ...fields };
}

describe('execution progress and ETA from the record', () => {
  it('weighs steps by their expected seconds: a finished 30 s step of 40 is 75 %, the ETA the 10 s left', () => {
    const p = executionProgress({ status: 'running', steps: [step('a', 30, { status: 'succeeded' }), step('b', 10)] }, at(30));
    expect(p.progress).toBe(75);
    expect(p.estimatedCompletion).toBe(at(40).toISOString());
  });

  it('counts a running step by its elapsed share, never past 95 % until it ends', () => {
    const running = (now: number) => executionProgress({ status: 'running', steps: [step('a', 10, { status: 'running', startedAt: at(0).toISOString() })] }, at(now)).progress;
    expect(running(5)).toBe(50);
    expect(running(60)).toBe(95);
  });

  it('extrapolates a restore from its own pace: 25 % in 10 s leaves 30 s, whatever the estimate said', () => {
    const restore = step('r', 100, { status: 'running', type: 'restore', startedAt: at(0).toISOString(), output: { progress: { done: 250, total: 1000, at: at(10).toISOString() } } });
    const p = executionProgress({ status: 'running', steps: [restore] }, at(10));
    expect(p.estimatedCompletion).toBe(at(40).toISOString());
    // Behind its estimate: progress does not go back below the elapsed share shown before the report.
    const slow = step('r', 10, { status: 'running', startedAt: at(0).toISOString(), output: { progress: { done: 5, total: 100, at: at(5).toISOString() } } });
    expect(executionProgress({ status: 'running', steps: [slow] }, at(5)).progress).toBe(50);
  });

  it('moves a restore on at its pace between reports, as its ETA counts down, to 95 % until it reports more', () => {
    const restore = step('r', 100, { status: 'running', type: 'restore', startedAt: at(0).toISOString(), output: { progress: { done: 250, total: 1000, at: at(10).toISOString() } } });
    const p = (now: number) => executionProgress({ status: 'running', steps: [restore] }, at(now));
    expect(p(12)).toEqual({ progress: 30, estimatedCompletion: at(40).toISOString() });
    expect(p(20).progress).toBe(50);
    expect(p(60).progress).toBe(95);
  });

  it('starts from what the previous report had shown when a report is behind it, and reaches the end with its ETA', () => {
    const slowed = step('r', 100, { status: 'running', type: 'restore', startedAt: at(0).toISOString(), output: { progress: { done: 400, total: 1000, at: at(20).toISOString(), shown: 0.5 } } });
    const p = (now: number) => executionProgress({ status: 'running', steps: [slowed] }, at(now));
    // 40 % in 20 s leaves 30 s: the other half of the way is covered in those 30 s.
    expect(p(20)).toEqual({ progress: 50, estimatedCompletion: at(50).toISOString() });
    expect(p(35).progress).toBe(75);
    expect(p(49).progress).toBe(95);
  });

  it('takes no account of a report made before the step started again (a resumed execution)', () => {
    const resumed = step('r', 100, { status: 'running', type: 'restore', startedAt: at(100).toISOString(), output: { progress: { done: 900, total: 1000, at: at(50).toISOString(), shown: 0.95 } } });
    expect(executionProgress({ status: 'running', steps: [resumed] }, at(110))).toEqual({ progress: 10, estimatedCompletion: at(200).toISOString() });
  });

  it('has no ETA while an approval waits, once ended, or after an interruption; a success is 100 %', () => {
    const waiting = executionProgress({ status: 'waiting-approval', steps: [step('a', 1, { status: 'succeeded' }), step('ok', 1, { status: 'waiting-approval' })] }, at(1));
    expect(waiting).toEqual({ progress: 50, estimatedCompletion: null });
    expect(executionProgress({ status: 'interrupted', steps: [step('a', 1)] }, at(1)).estimatedCompletion).toBeNull();
    expect(executionProgress({ status: 'succeeded', steps: [step('a', 1, { status: 'succeeded' })] })).toEqual({ progress: 100, estimatedCompletion: null });
  });
});
