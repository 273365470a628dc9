import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../src/catalog/catalog.js';
import { InterruptedError, OperationError } from '../../src/core/errors.js';
import { eachDestination, fanOutStatus } from '../../src/runtime/destination-fan-out.js';
import type { Destination } from '../../src/runtime/destinations.js';
import { withRun } from '../../src/runtime/run-recorder.js';

describe('the run recorder', () => {
  let catalog: Catalog;
  beforeEach(() => {
    catalog = openCatalog(':memory:');
  });
  afterEach(() => catalog.close());

  const only = () => catalog.runs.list({})[0]!;

  it('records a run that returns with the outcome it names, its log and its audit row, after cleanup', async () => {
    const order: string[] = [];
    const result = await withRun(catalog, {
      start: { kind: 'backup', source: 'files', destinations: ['local'] },
      work: async (run) => {
        expect(catalog.runs.get(run.id)?.status).toBe('running');
        run.log('info', 'working');
        order.push('work');
        return 42;
      },
      cleanup: async () => {
        order.push('cleanup');
      },
      outcome: (n) => {
        order.push('outcome');
        return { status: 'partial', error: 'one destination failed', summary: { n }, audit: { action: 'backup.run', target: 'files', payload: { n } } };
      },
    });
    expect(result).toBe(42);
    expect(order).toEqual(['work', 'cleanup', 'outcome']);
    expect(only()).toMatchObject({ kind: 'backup', source: 'files', status: 'partial', error: 'one destination failed', summary: { n: 42 }, pid: process.pid });
    expect(catalog.runLogs.forRun(only().id).map((l) => l.message)).toEqual(['working']);
    expect(catalog.audit.list({}).map((a) => a.action)).toEqual(['backup.run']);
  });

  it('a run whose work throws is failed with the error, cleaned up, and leaves no audit row', async () => {
    let cleaned = false;
    await expect(
      withRun(catalog, {
        start: { kind: 'restore' },
        work: async () => {
          throw new OperationError('no space left');
        },
        cleanup: async () => {
          cleaned = true;
        },
        outcome: () => ({ status: 'succeeded', audit: { action: 'restore', target: 'x' } }),
      }),
    ).rejects.toThrow('no space left');
    expect(cleaned).toBe(true);
    expect(only()).toMatchObject({ status: 'failed', error: 'no space left' });
    expect(catalog.runLogs.forRun(only().id)).toEqual([expect.objectContaining({ level: 'error', message: 'no space left' })]);
    expect(catalog.audit.list({})).toEqual([]);
  });

  it('an interrupt is recorded as interrupted, with the note the operation gives', async () => {
    await expect(
      withRun(catalog, {
        start: { kind: 'backup' },
        interruptedNote: 'interrupted; no snapshot was written',
        work: async () => {
          throw new InterruptedError();
        },
        outcome: () => ({ status: 'succeeded' }),
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect(only()).toMatchObject({ status: 'interrupted', error: 'interrupted' });
    expect(catalog.runLogs.forRun(only().id)[0]).toMatchObject({ level: 'warn', message: 'interrupted; no snapshot was written' });
  });

  it('writes no row when what it waits for first fails, and still cleans up', async () => {
    let cleaned = false;
    await expect(
      withRun(catalog, {
        start: { kind: 'backup' },
        ready: async () => {
          throw new OperationError('wrong password');
        },
        work: async () => 1,
        cleanup: async () => {
          cleaned = true;
        },
        outcome: () => ({ status: 'succeeded' }),
      }),
    ).rejects.toThrow('wrong password');
    expect(cleaned).toBe(true);
    expect(catalog.runs.list({})).toEqual([]);
  });
});

describe('the per-destination fan-out', () => {
  const destination = (name: string) => ({ name }) as Destination;

  it('goes on past a failed destination, releases each one, and says partial', async () => {
    const released: string[] = [];
    const { results, failures } = await eachDestination(
      [destination('a'), destination('b'), destination('c')],
      async (d) => {
        if (d.name === 'b') throw new OperationError('unreachable');
        return d.name === 'c' ? undefined : d.name;
      },
      { after: async (d) => void released.push(d.name) },
    );
    expect(results).toEqual(['a']);
    expect(failures).toEqual([{ destination: 'b', error: 'unreachable', exitCode: 1 }]);
    expect(released).toEqual(['a', 'b', 'c']);
    expect(fanOutStatus(results.length, failures.length)).toBe('partial');
    expect(fanOutStatus(0, 1)).toBe('failed');
    expect(fanOutStatus(2, 0)).toBe('succeeded');
  });

  it('stops at an interrupt', async () => {
    const seen: string[] = [];
    await expect(
      eachDestination([destination('a'), destination('b')], async (d) => {
        seen.push(d.name);
        throw new InterruptedError();
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect(seen).toEqual(['a']);
  });
});
