import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3DestinationConfig } from '../../src/storage/s3.js';
import { repoRoot } from './cli.js';

export interface S3Server {
  endpoint: string;
  bucket: string;
  directory: string;
  /** Kills the server process at once (SIGKILL), as a crash would. */
  kill(): void;
  /** Starts the server again on the same data (a new port). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function launch(directory: string, bucket: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--openssl-legacy-provider', join(repoRoot, 'test/servers/s3rver-process.mjs'), directory, bucket], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${err}`)));
  });
}

/** A real S3 wire-protocol server (s3rver) on loopback, on a free port, over a throwaway directory. */
export async function startS3Server(bucket = 'bkdr-test'): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'bkdr-s3rver-'));
  let current = await launch(directory, bucket);
  const server: S3Server = {
    endpoint: `http://127.0.0.1:${current.port}`,
    bucket,
    directory,
    kill: () => {
      current.child.kill('SIGKILL');
    },
    restart: async () => {
      current = await launch(directory, bucket);
      server.endpoint = `http://127.0.0.1:${current.port}`;
    },
    stop: async () => {
      current.child.kill('SIGKILL');
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}

/** Where an S3 adapter finds `server`: its bucket under `prefix`, with s3rver's fixed credentials. */
export function s3rverDestination(server: S3Server, prefix: string): S3DestinationConfig {
  return { bucket: server.bucket, prefix, endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
}
