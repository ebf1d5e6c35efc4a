/**
 * Per-entity write locks. Axis has no PATCH and no version check: `PUT` replaces the whole
 * user or group, so a read-merge-write that overlaps another loses the other's change (an
 * acknowledged `enabled: false` undone by a concurrent rename, a removed membership put back
 * by a group edit). Every read-merge-write holds the locks of the entities it reads and
 * writes, for the whole read, merge, PUT and commit.
 *
 * One process keeps them in memory; the scale-out work puts a Redis implementation (a
 * `SET NX PX` lease per key, released by a compare-and-delete script) behind this interface.
 */

export interface EntityLocks {
  /**
   * Runs `fn` while holding every key. Keys are taken in sorted order, so two writers that
   * need overlapping sets can never deadlock. Fails with EntityLockTimeoutError, having
   * run nothing, when the keys are not all free within the store's bounded wait.
   */
  withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T>;
}

/** The keys could not all be taken within the bounded wait: another write holds one of them. */
export class EntityLockTimeoutError extends Error {
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`entity lock ${key} still held after ${waitedMs} ms`);
    this.name = 'EntityLockTimeoutError';
  }
}

export interface MemoryEntityLockOptions {
  /** Longest wait for all keys of one `withLocks`. */
  maxWaitMs: number;
  /**
   * Longest hold: a holder still running after this long loses its keys, so a stuck write
   * cannot block an entity for ever (no holder outlives its request deadline anyway).
   */
  leaseMs: number;
}

interface Waiter {
  token: symbol;
  grant: () => void;
}

interface KeyState {
  owner: symbol;
  lease: NodeJS.Timeout;
  queue: Waiter[];
}

export class MemoryEntityLocks implements EntityLocks {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: MemoryEntityLockOptions) {}

  /** Keys held now (for tests: none may stay behind). */
  get held(): number {
    return this.keys.size;
  }

  async withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const token = Symbol('holder');
    const started = Date.now();
    const taken: string[] = [];
    try {
      for (const key of sorted) {
        await this.acquire(key, token, started + this.options.maxWaitMs, started);
        taken.push(key);
      }
      return await fn();
    } finally {
      for (const key of taken.reverse()) this.release(key, token);
    }
  }

  private acquire(key: string, token: symbol, waitUntil: number, started: number): Promise<void> {
    const state = this.keys.get(key);
    if (state === undefined) {
      this.keys.set(key, { owner: token, lease: this.leaseTimer(key, token), queue: [] });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        token,
        grant: () => {
          clearTimeout(timeout);
          resolve();
        },
      };
      const timeout = setTimeout(
        () => {
          const current = this.keys.get(key);
          if (current !== undefined) current.queue = current.queue.filter((w) => w !== waiter);
          reject(new EntityLockTimeoutError(key, Date.now() - started));
        },
        Math.max(0, waitUntil - Date.now()),
      );
      timeout.unref();
      state.queue.push(waiter);
    });
  }

  private leaseTimer(key: string, token: symbol): NodeJS.Timeout {
    const timer = setTimeout(() => this.release(key, token), this.options.leaseMs);
    timer.unref();
    return timer;
  }

  /** Hands the key to the next waiter, in arrival order; a no-op for a holder whose lease ran out. */
  private release(key: string, token: symbol): void {
    const state = this.keys.get(key);
    if (state === undefined || state.owner !== token) return;
    clearTimeout(state.lease);
    const next = state.queue.shift();
    if (next === undefined) {
      this.keys.delete(key);
      return;
    }
    state.owner = next.token;
    state.lease = this.leaseTimer(key, next.token);
    next.grant();
  }
}
