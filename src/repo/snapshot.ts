export type SnapshotStrategy = 'full' | 'incremental' | 'differential' | 'continuous';

export interface SnapshotSummary {
  files: number;
  dirs: number;
  bytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  dataBlobs: number;
  newDataBlobs: number;
  addedBytes: number;
  storedBytes: number;
  /** A files source's configured paths that could not be reached; the backup holds the others. */
  missingPaths?: string[];
}

/** What a backup records about itself; written last, after every pack and index it needs. */
export interface SnapshotInput {
  time: string;
  tree: string;
  paths: string[];
  hostname: string;
  username: string;
  source: string;
  strategy: SnapshotStrategy;
  parent?: string;
  tags: string[];
  startTime: string;
  endTime: string;
  summary: SnapshotSummary;
  programVersion: string;
  /** Source-specific facts (a database backup's WAL positions or binlog coordinates). */
  meta?: Record<string, unknown>;
}

export interface Snapshot extends SnapshotInput {
  id: string;
  version: 1;
}
