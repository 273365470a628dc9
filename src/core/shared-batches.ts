/** A batch of SharedBatches: `done` settles once the work started on its items has. */
export interface SharedBatch<T> {
  readonly items: T[];
  readonly done: Promise<void>;
}

interface OpenBatch<T> extends SharedBatch<T> {
  weight: number;
  sent: boolean;
  settle: () => void;
}

/**
 * Items from many callers gathered into batches, each batch one piece of work: a caller
 * adds its items and keeps the batches they went into. A batch is sent when it is full,
 * or when a caller that needs its items done sends it, whichever comes first. Callers
 * that each sent their own few items (the files of one small directory) made as many
 * pieces of work, and each cost its fixed price.
 */
export class SharedBatches<T> {
  readonly #maxItems: number;
  readonly #maxWeight: number;
  /** Starts the work on a batch's items; the promise it returns never rejects. */
  readonly #start: (items: T[]) => Promise<{ done: Promise<void> }>;
  #open: OpenBatch<T>;

  constructor(limits: { items: number; weight: number }, start: (items: T[]) => Promise<{ done: Promise<void> }>) {
    this.#maxItems = limits.items;
    this.#maxWeight = limits.weight;
    this.#start = start;
    this.#open = newBatch();
  }

  /** Adds `item` to the open batch, and sends that batch once full (waiting as `start` waits). Returns the batch. */
  async add(item: T, weight: number): Promise<SharedBatch<T>> {
    const batch = this.#open;
    batch.items.push(item);
    batch.weight += weight;
    if (batch.items.length >= this.#maxItems || batch.weight >= this.#maxWeight) await this.send(batch);
    return batch;
  }

  /** Sends `batch` now, unless it went already. */
  async send(batch: SharedBatch<T>): Promise<void> {
    const open = batch as OpenBatch<T>;
    if (open.sent) return;
    open.sent = true;
    // Items added from here on go into the next batch, even while this one waits to start.
    if (this.#open === open) this.#open = newBatch();
    try {
      const { done } = await this.#start(open.items);
      void done.then(open.settle, open.settle);
    } catch (err) {
      open.settle();
      throw err;
    }
  }
}

function newBatch<T>(): OpenBatch<T> {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { items: [], weight: 0, sent: false, done, settle };
}
