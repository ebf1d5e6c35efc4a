/**
 * Per-entity write locks. Axis has no PATCH and no version check: `PUT` replaces the whole
 * user or group, so a read-merge-write that overlaps another loses the other's change.
 * Every read-merge-write holds the locks of the entities it reads and writes.
 *
 * The interface as the integrity work defines it (its in-memory implementation lands with
 * that work); redis-entity-lock.ts is the fleet's implementation behind it.
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
