import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { linkSync } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../core/errors.js';
import type { BlobEntries, Repository } from '../repo/repository.js';
import { applyMetadata, createSpecialNode, createSymlink } from '../sources/files/restore-node.js';
import { planRestore, type RestorePlan } from './restore-plan.js';
import { createEmptyFile, makeDirectory, replaceIfForced, writeContent } from './restore-writer.js';

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export { UnsafeBackupError } from './restore-plan.js';

export interface RestoreOptions {
  repo: Repository;
  tree: string;
  target: string;
  include?: string[] | undefined;
  force?: boolean | undefined;
  verify?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** The snapshot's id, for naming it when its tree is unsafe to restore. */
  backupId?: string | undefined;
  onProgress?: ((p: RestoreProgress) => void) | undefined;
}

export interface RestoreResult {
  target: string;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  specials: number;
  bytes: number;
  verified?: { files: number; mismatches: string[] };
  warnings: string[];
}

/**
 * Restores a snapshot tree into `target`. Writes only below the target: the whole tree
 * is read and its names checked before anything is written, directories are created by
 * the restore itself (an existing symlink in their place is replaced with --force),
 * files are opened with O_NOFOLLOW and symlinks are created last, so no write goes
 * through a link.
 */
export async function restoreTree(opts: RestoreOptions): Promise<RestoreResult> {
  const { repo } = opts;
  const force = opts.force ?? false;
  const target = await checkTarget(opts.target, force);
  const plan = await planRestore(opts, Buffer.from(target));
  await mkdir(target, { recursive: true, mode: 0o700 });

  const owner = process.getuid?.() === 0;
  const result: RestoreResult = { target, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, specials: 0, bytes: 0, warnings: [...plan.warnings] };
  const { dirs, files, hardlinks, later } = plan;
  for (const { file, recorded } of plan.sizeMismatches)
    result.warnings.push(`${files.path(file).toString()}: the backup records ${recorded} bytes, its content holds ${files.size(file)}; restored the content`);

  for (const { path } of dirs) makeDirectory(path, force);
  let totalBytes = 0;
  for (let f = 0; f < files.length; f++) {
    if (!files.createOnWrite(f)) createEmptyFile(files.path(f), files.size(f), force);
    totalBytes += files.size(f);
  }
  await writeContent(repo, plan, opts, owner, (bytes) => {
    result.bytes += bytes;
    opts.onProgress?.({ files: result.files, totalFiles: files.length, bytes: result.bytes, totalBytes });
  });

  for (let f = 0; f < files.length; f++) {
    if (!files.metadataApplied(f)) result.warnings.push(...applyMetadata(files.path(f), files.metadata(f), { owner }));
    result.files++;
  }
  for (const h of hardlinks) {
    replaceIfForced(h.path, force);
    linkSync(h.existing, h.path);
    result.hardlinks++;
    result.files++;
  }
  for (const { path, node } of later) {
    replaceIfForced(path, force);
    if (node.type === 'symlink') {
      createSymlink(path, node.linkTarget ?? Buffer.alloc(0));
      result.symlinks++;
    } else if (createSpecialNode(path, node)) {
      result.specials++;
    } else {
      result.warnings.push(`${path.toString()}: ${node.type} not restored${node.type === 'socket' ? '' : ' (needs root)'}`);
      continue;
    }
    result.warnings.push(...applyMetadata(path, node, { owner }));
  }
  // Directories last and deepest first: writing into a directory moves its mtime.
  for (const { path, node } of dirs.reverse()) {
    result.warnings.push(...applyMetadata(path, node, { owner }));
    result.dirs++;
  }

  if (opts.verify) result.verified = await verifyFiles(repo.blobEntries, plan);
  opts.onProgress?.({ files: result.files, totalFiles: files.length, bytes: result.bytes, totalBytes });
  return result;
}

/** Checks the target without creating it: a restore that fails its checks leaves no trace. */
async function checkTarget(target: string, force: boolean): Promise<string> {
  const abs = resolve(target);
  const existing = await stat(abs).catch(() => undefined);
  if (!existing) return abs;
  if (!existing.isDirectory()) throw new UsageError(`restore target ${abs} is not a directory`);
  if (!force && (await readdir(abs)).length > 0) throw new UsageError(`restore target ${abs} is not empty`, { remedy: { option: 'force', to: 'restore into it' } });
  return abs;
}

/**
 * Re-reads every restored file and compares it with its content in the backup: each blob's
 * hash, and its length with the content's. A file whose node records another size than its
 * content holds is a mismatch too: the backup does not hold what it says.
 */
async function verifyFiles(index: BlobEntries, plan: RestorePlan): Promise<{ files: number; mismatches: string[] }> {
  const mismatches: string[] = [];
  const { files } = plan;
  const misrecorded = new Set(plan.sizeMismatches.map((m) => m.file));
  for (let file = 0; file < files.length; file++) {
    const path = files.path(file);
    if (misrecorded.has(file)) {
      mismatches.push(path.toString());
      continue;
    }
    const handle = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      let position = 0;
      let differs = false;
      const end = files.firstBlob(file) + files.blobCount(file);
      for (let b = files.firstBlob(file); b < end; b++) {
        const location = index.locationAt(plan.blobs.at(b));
        const buf = Buffer.allocUnsafe(location.rawLength);
        const { bytesRead } = await handle.read(buf, 0, buf.length, position);
        position += location.rawLength;
        if (bytesRead !== buf.length || createHash('sha256').update(buf).digest('hex') !== location.id) {
          differs = true;
          break;
        }
      }
      if (differs || (await handle.stat()).size !== files.size(file)) mismatches.push(path.toString());
    } finally {
      await handle.close();
    }
  }
  return { files: files.length, mismatches };
}
