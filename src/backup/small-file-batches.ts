/** How many batches run at once, and what fills one. */
export interface SmallFileBatchLimits {
  inFlight: number;
  files: number;
  bytes: number;
}

/**
 * A batch as those who added to it hold it: `started` resolves when it takes a slot, `done`
 * once `archive` has settled for it; `full` once it takes no more files.
 */
export interface BatchTicket {
  readonly started: Promise<void>;
  readonly done: Promise<void>;
  readonly full: boolean;
}

interface Batch<T> {
  items: T[];
  bytes: number;
  ticket: { started: Promise<void>; done: Promise<void>; full: boolean };
  start: () => void;
}

/**
 * Small files from every directory of a walk, in shared batches: each batch is a trip to
 * the pool to read them and one to seal them (a small one does both in one), and most
 * directories of a real tree hold a dozen files or fewer, so batches of one directory each
 * were mostly small (the bench's real tree: 51,000 files in 4,700 batches). A batch starts when a slot is free and it is
 * full, or someone waits for it (`need`); until then it takes the files of other directories.
 */
export class SmallFileBatches<T> {
  readonly #limits: SmallFileBatchLimits;
  readonly #archive: (items: T[]) => Promise<void>;
  #open: Batch<T> | undefined;
  /** Someone waits for the open batch. */
  #openNeeded = false;
  /** A start of the needed open batch is due at the end of this turn of the event loop. */
  #startDue = false;
  /** Full batches waiting for a slot, in the order they filled. */
  readonly #full: Batch<T>[] = [];
  #running = 0;

  /** `archive` must not reject: its errors are the caller's to keep. */
  constructor(limits: SmallFileBatchLimits, archive: (items: T[]) => Promise<void>) {
    this.#limits = limits;
    this.#archive = archive;
  }

  /**
   * Adds a file of `bytes` and gives its batch's ticket. A file that fills the batch gets it
   * `full`, and its adder should wait for `started` (the first free slot) before adding more:
   * the walk stays no more than a batch ahead of what the pool works on. Not async: a walk
   * of 200,000 small files took 0.6 s more CPU awaiting each file.
   */
  add(item: T, bytes: number): BatchTicket {
    const batch = (this.#open ??= this.#newBatch());
    batch.items.push(item);
    batch.bytes += bytes;
    if (batch.items.length >= this.#limits.files || batch.bytes >= this.#limits.bytes) {
      batch.ticket.full = true;
      this.#takeOpen();
      this.#full.push(batch);
      this.#startWaiting();
    }
    return batch.ticket;
  }

  /**
   * Someone waits for the ticket's batch: if it is still open, it starts at the first free
   * slot once this turn of the event loop is over (or when a running batch ends before
   * that), with the files added until then: the walks that other completions resume in
   * the same turn add theirs. In an incremental backup the directories' changed files are
   * few, and each batch had a directory's one or two. Resolves once it has started.
   */
  need(ticket: BatchTicket): Promise<void> {
    if (this.#open?.ticket === ticket) {
      this.#openNeeded = true;
      if (!this.#startDue) {
        this.#startDue = true;
        setImmediate(() => {
          this.#startDue = false;
          this.#startWaiting();
        });
      }
    }
    return ticket.started;
  }

  #newBatch(): Batch<T> {
    let start!: () => void;
    const started = new Promise<void>((resolve) => (start = resolve));
    const batch: Batch<T> = { items: [], bytes: 0, ticket: { started, done: started.then(() => this.#run(batch)), full: false }, start };
    return batch;
  }

  #takeOpen(): Batch<T> | undefined {
    const open = this.#open;
    this.#open = undefined;
    this.#openNeeded = false;
    return open;
  }

  #startWaiting(): void {
    while (this.#running < this.#limits.inFlight) {
      const next = this.#full.shift() ?? (this.#openNeeded ? this.#takeOpen() : undefined);
      if (!next) return;
      this.#running++;
      next.start();
    }
  }

  async #run(batch: Batch<T>): Promise<void> {
    try {
      await this.#archive(batch.items);
    } finally {
      this.#running--;
      this.#startWaiting();
    }
  }
}
