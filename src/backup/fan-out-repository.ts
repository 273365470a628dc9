import type { BlobMaker, BlobType, Repository, SaveBlobResult } from '../repo/repository.js';
import type { FastCdc } from '../repo/fastcdc.js';
import type { TreeNode } from '../repo/tree-node.js';
import type { Destination } from '../runtime/destinations.js';

export interface FanOutMember {
  destination: Destination;
  repo: Repository;
  /** Set when this destination failed mid-run; it gets no snapshot, the others go on. */
  error?: unknown;
}

/**
 * One read, chunk and hash pass written to several repositories (DESIGN.md
 * "Destinations"): each blob goes to every repository that lacks it, each with its
 * own compression and encryption. The repositories share chunker parameters, so one
 * chunking serves all. A destination that fails drops out; the run fails only when
 * none is left.
 */
export class FanOutRepository {
  constructor(readonly members: FanOutMember[]) {
    if (members.length === 0) throw new Error('a fan-out needs at least one repository');
  }

  get alive(): FanOutMember[] {
    return this.members.filter((m) => m.error === undefined);
  }

  /** The repository whose parent snapshot and trees drive change detection. */
  get primary(): Repository {
    const first = this.alive[0];
    if (!first) throw this.members[0]!.error;
    return first.repo;
  }

  chunker(): FastCdc {
    return this.primary.chunker();
  }

  hasBlob(id: string): boolean {
    // With none left, nothing is stored: saying "present" would let a caller read on to no end.
    // Asked for every file a backup walks: no array of the living made for each question.
    let alive = false;
    for (const m of this.members) {
      if (m.error !== undefined) continue;
      if (!m.repo.hasBlob(id)) return false;
      alive = true;
    }
    return alive;
  }

  async saveBlob(type: BlobType, id: string, plaintext: Buffer): Promise<SaveBlobResult> {
    const results = await Promise.all(
      this.alive.map(async (m) => {
        try {
          return await m.repo.saveBlob(type, id, plaintext);
        } catch (err) {
          m.error = err;
          return undefined;
        }
      }),
    );
    if (this.alive.length === 0) throw this.members[0]!.error;
    // Counted once for the run's summary; each repository's own stored size comes from its flush.
    return results.find((r) => r?.stored) ?? { stored: false, storedSize: 0 };
  }

  async saveBlobs(type: BlobType, blobs: { id: string; data: Buffer }[]): Promise<SaveBlobResult[]> {
    const results = await Promise.all(
      this.alive.map(async (m) => {
        try {
          return await m.repo.saveBlobs(type, blobs);
        } catch (err) {
          m.error = err;
          return undefined;
        }
      }),
    );
    if (this.alive.length === 0) throw this.members[0]!.error;
    // As saveBlob: counted once for the run's summary.
    return blobs.map((_, i) => results.find((r) => r?.[i]?.stored)?.[i] ?? { stored: false, storedSize: 0 });
  }

  /**
   * With one repository left, its own (made and sealed in one trip); with more, each seals
   * under its own key, so the blobs are made unsealed and saved to each (saveBlobs). A
   * failure of `make` itself is the caller's, not a destination's.
   */
  async saveMadeBlobs(type: BlobType, bound: number, make: BlobMaker): Promise<SaveBlobResult[]> {
    const alive = this.alive;
    if (alive.length === 0) throw this.members[0]!.error;
    if (alive.length > 1) return this.saveBlobs(type, await make(undefined));
    const only = alive[0]!;
    let makeFailed = false;
    try {
      return await only.repo.saveMadeBlobs(type, bound, async (seal) => {
        try {
          return await make(seal);
        } catch (err) {
          makeFailed = true;
          throw err;
        }
      });
    } catch (err) {
      if (makeFailed) throw err;
      // As saveBlobs: the destination drops out, and with none left the run fails.
      only.error = err;
      throw this.members[0]!.error;
    }
  }

  async saveTree(nodes: TreeNode[], storedTexts?: ReadonlyMap<TreeNode, string>): Promise<string> {
    let id: string | undefined;
    await Promise.all(
      this.alive.map(async (m) => {
        try {
          id = await m.repo.saveTree(nodes, storedTexts);
        } catch (err) {
          m.error = err;
        }
      }),
    );
    if (id === undefined) throw this.members[0]!.error;
    return id;
  }

  loadBlob(id: string): Promise<Buffer> {
    return this.primary.loadBlob(id);
  }

  loadTrees(ids: readonly string[], maxBytes?: number): ReturnType<Repository['loadTrees']> {
    return this.primary.loadTrees(ids, maxBytes);
  }
}
