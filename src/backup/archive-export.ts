import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type archiver from 'archiver';
import { UsageError } from '../core/errors.js';
import type { Repository } from '../repo/repository.js';
import type { TreeNode } from '../repo/tree-node.js';
import { walkSnapshotTree } from './snapshot-walk.js';

export interface ArchiveExportResult {
  file: string;
  format: 'tar.gz' | 'zip';
  entries: number;
  bytes: number;
}

/**
 * Streams a snapshot out as a .tar.gz or .zip through archiver, one blob at a time,
 * so a snapshot of any size needs memory for one blob, not one file. Written to a
 * temporary name and renamed, so a failed export leaves no half archive behind.
 */
export async function exportArchive(repo: Repository, tree: string, file: string, opts: { force?: boolean } = {}): Promise<ArchiveExportResult> {
  const format = file.endsWith('.zip') ? 'zip' : file.endsWith('.tar.gz') || file.endsWith('.tgz') ? 'tar.gz' : undefined;
  if (!format) throw new UsageError(`cannot export to ${file}: an archive's name must end in .tar.gz, .tgz or .zip`);
  const [{ stat }, { default: archiver }] = await Promise.all([import('node:fs/promises'), import('archiver')]);
  if (!opts.force && (await stat(file).catch(() => undefined))) throw new UsageError(`${file} already exists`, { remedy: { option: 'force', to: 'replace it' } });
  const folder = await stat(dirname(resolve(file))).catch(() => undefined);
  if (!folder?.isDirectory()) throw new UsageError(`cannot write the archive ${file}: ${dirname(resolve(file))} is not a directory`);

  const temp = `${file}.partial-${process.pid}`;
  const out = createWriteStream(temp, { mode: 0o600 });
  const archive = format === 'zip' ? archiver('zip', { zlib: { level: 6 } }) : archiver('tar', { gzip: true, gzipOptions: { level: 6 } });
  const done = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
    archive.on('error', reject);
  });
  // The file can still fail (a full disk, a folder removed meanwhile) before `done` is awaited: never unhandled.
  done.catch(() => undefined);
  archive.pipe(out);

  let entries = 0;
  let bytes = 0;
  try {
    for await (const { path, node } of walkSnapshotTree(repo, tree)) {
      const name = path.toString().slice(1);
      const date = new Date(Number(node.mtimeNs / 1_000_000n));
      if (node.type === 'dir') archive.append('', { name: `${name}/`, date, mode: node.mode });
      else if (node.type === 'symlink') archive.symlink(name, (node.linkTarget ?? Buffer.alloc(0)).toString(), node.mode);
      else if (node.type === 'file') {
        // `stats.size` lets the tar writer stream the entry instead of collecting it in memory.
        archive.append(Readable.from(blobStream(repo, node)), { name, date, mode: node.mode, stats: { size: node.size ?? 0 } as never });
        bytes += node.size ?? 0;
        // A failed write of the archive ends the wait too: archiver would wait for it forever.
        await Promise.race([drained(archive), done]);
      } else continue;
      entries++;
    }
    await archive.finalize();
    await done;
    await rename(temp, file);
  } catch (err) {
    archive.abort();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  return { file, format, entries, bytes };
}

async function* blobStream(repo: Repository, node: TreeNode): AsyncGenerator<Buffer> {
  for (const id of node.content ?? []) yield await repo.loadBlob(id);
}

/** archiver queues entries; wait for each file entry so only one is read at a time. */
function drained(archive: archiver.Archiver): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEntry = () => {
      archive.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      archive.off('entry', onEntry);
      reject(err);
    };
    archive.once('entry', onEntry);
    archive.once('error', onError);
  });
}
