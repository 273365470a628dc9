import { describe, expect, it } from 'vitest';
import { waitStep } from '../../src/dr/wait-step.js';
import { recordingContext, step } from '../helpers/dr-step.js';

describe('waitStep', () => {
  it('waits its duration', async () => {
    const begin = Date.now();
    const outcome = await waitStep.run(step({ type: 'wait', duration: 150 }), recordingContext(), new AbortController().signal);
    expect(Date.now() - begin).toBeGreaterThanOrEqual(140);
    expect(outcome).toEqual({ detail: 'waited 150ms', output: { waitedMs: 150 } });
  });

  it('stops at once when the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const begin = Date.now();
    await expect(waitStep.run(step({ type: 'wait', duration: 60_000 }), recordingContext(), controller.signal)).rejects.toThrow('stop');
    expect(Date.now() - begin).toBeLessThan(1_000);
  });

  it('does not wait on an aborted signal', async () => {
    await expect(waitStep.run(step({ type: 'wait', duration: 60_000 }), recordingContext(), AbortSignal.abort())).rejects.toBeInstanceOf(Error);
  });
});
