import type { Slots } from './slots.js';

/** A batch of SharedBatches: `done` settles once the work on its items has. */
export interface SharedBatch<T> {
  readonly items: T[];
  readonly done: Promise<void>;
}

interface OpenBatch<T> extends SharedBatch<T> {
  weight: number;
  /** Its send has begun (it may still be waiting for a slot, and taking items meanwhile). */
  sent: boolean;
  /** Its send once the work waiting to run has run (sendSoon). */
  sending?: Promise<void>;
  settle: () => void;
}

/**
 * Items from many callers gathered into batches, each batch one piece of work: a caller
 * adds its items and keeps the batches they went into. A batch is sent when it is full,
 * or when a caller that needs its items done sends it, whichever comes first; it takes
 * items until its work has a slot, so the busier the work, the fuller its batches.
 * Callers that each sent their own few items (the files of one small directory) made as
 * many pieces of work, and each cost its fixed price.
 */
export class SharedBatches<T> {
  readonly #maxItems: number;
  readonly #maxWeight: number;
  readonly #slots: Slots;
  /** The work on a batch's items; it must not reject. */
  readonly #work: (items: T[]) => Promise<void>;
  #open: OpenBatch<T>;

  constructor(limits: { items: number; weight: number }, slots: Slots, work: (items: T[]) => Promise<void>) {
    this.#maxItems = limits.items;
    this.#maxWeight = limits.weight;
    this.#slots = slots;
    this.#work = work;
    this.#open = newBatch();
  }

  /** Adds `item` to the open batch, and sends that batch once full (waiting for a slot). Returns the batch. */
  async add(item: T, weight: number): Promise<SharedBatch<T>> {
    // Full and waiting for its slot: the item starts the next batch.
    if (this.#full(this.#open)) this.#open = newBatch();
    const batch = this.#open;
    batch.items.push(item);
    batch.weight += weight;
    if (this.#full(batch)) await this.send(batch);
    return batch;
  }

  /**
   * Sends `batch` once the callbacks already waiting to run have run (setImmediate), unless it
   * went before: the callers that finish in one turn of the event loop add their items first.
   */
  sendSoon(batch: SharedBatch<T>): Promise<void> {
    const open = batch as OpenBatch<T>;
    if (open.sent) return Promise.resolve();
    open.sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.send(open));
    return open.sending;
  }

  /** Sends `batch` now (it takes items until it has a slot), unless its send began already. */
  async send(batch: SharedBatch<T>): Promise<void> {
    const open = batch as OpenBatch<T>;
    if (open.sent) return;
    open.sent = true;
    await this.#slots.acquire();
    // From here on, items go into the next batch.
    if (this.#open === open) this.#open = newBatch();
    void this.#work(open.items)
      .finally(() => this.#slots.release())
      .then(open.settle, open.settle);
  }

  #full(batch: OpenBatch<T>): boolean {
    return batch.items.length >= this.#maxItems || batch.weight >= this.#maxWeight;
  }
}

function newBatch<T>(): OpenBatch<T> {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { items: [], weight: 0, sent: false, done, settle };
}
