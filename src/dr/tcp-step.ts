import { connect } from 'node:net';
import { OperationError } from '../core/errors.js';
import { abortReason, type StepExecutor, type StepOfType, type StepOutcome } from './step-executor.js';

export type TcpStep = StepOfType<'tcp'>;

/** 'db:5432' → db, 5432; '[::1]:5432' → ::1, 5432. The config schema already checked the 'host:port' shape. */
export function parseTarget(target: string): { host: string; port: number } {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.slice(colon + 1));
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new OperationError(`tcp target '${target}' is not host:port`);
  return { host, port };
}

/** Succeeds as soon as a TCP connection to `target` opens (it is closed at once); fails on refusal or a name that does not resolve. */
export const tcpStep: StepExecutor<TcpStep> = {
  run(step: TcpStep, _ctx, signal: AbortSignal): Promise<StepOutcome> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    const { host, port } = parseTarget(step.target);
    return new Promise<StepOutcome>((resolve, reject) => {
      const socket = connect({ host, port });
      const onAbort = () => {
        socket.destroy();
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        const address = `${socket.remoteAddress ?? host}:${socket.remotePort ?? port}`;
        socket.destroy();
        resolve({ detail: `connected to ${step.target}`, output: { address } });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new OperationError(`cannot connect to ${step.target}: ${err.code ?? err.message}`, { cause: err }));
      });
    });
  },
};
