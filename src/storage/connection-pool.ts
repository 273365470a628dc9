/**
 * A few long-lived connections to one server, each used by one operation at a time
 * (FTP and SFTP clients run one command per connection). Broken connections are
 * dropped and replaced on the next acquire.
 */
export class ConnectionPool<C> {
  readonly #idle: C[] = [];
  readonly #waiting: ((c: C) => void)[] = [];
  #open = 0;

  constructor(
    private readonly size: number,
    private readonly connect: () => Promise<C>,
    private readonly isUsable: (c: C) => boolean,
    private readonly disconnect: (c: C) => Promise<void> | void,
  ) {}

  async acquire(): Promise<C> {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (this.isUsable(c)) return c;
      this.#open--;
    }
    if (this.#open < this.size) {
      this.#open++;
      try {
        return await this.connect();
      } catch (err) {
        this.#open--;
        throw err;
      }
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(c: C): void {
    if (!this.isUsable(c)) {
      this.#open--;
      void Promise.resolve(this.disconnect(c)).catch(() => undefined);
      // A waiter gets a fresh connection rather than waiting for one that will not come back.
      const next = this.#waiting.shift();
      if (next) void this.acquire().then(next, () => this.#waiting.unshift(next));
      return;
    }
    const next = this.#waiting.shift();
    if (next) next(c);
    else this.#idle.push(c);
  }

  async use<T>(fn: (c: C) => Promise<T>): Promise<T> {
    const c = await this.acquire();
    try {
      return await fn(c);
    } finally {
      this.release(c);
    }
  }

  async close(): Promise<void> {
    for (const c of this.#idle.splice(0)) await Promise.resolve(this.disconnect(c)).catch(() => undefined);
    this.#open = 0;
  }
}
