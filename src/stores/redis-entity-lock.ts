import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { EntityLockTimeoutError } from './entity-lock.js';
import type { EntityLocks } from './entity-lock.js';

/**
 * Per-entity write locks for a fleet (REDIS_URL set), behind the EntityLocks interface of
 * entity-lock.ts: two admins on two replicas editing one user both keep their changes.
 *
 * - One Redis key per entity, `SET NX PX <lease>`, taken in sorted order (no deadlock
 *   between writers of overlapping sets) and released by a compare-and-delete script.
 * - The value is `<holder>:<fence>`, the fence a fleet-wide counter (INCR) taken per
 *   acquisition: a later holder always has a larger fence, so logs and the release script
 *   tell an expired holder from the current one; Axis has no conditional write, so the fence
 *   cannot be checked at the upstream itself.
 * - The lease is renewed every lease/3 while `fn` runs (compare-and-pexpire), so a slow
 *   write keeps its keys, and a replica that dies frees them within one lease.
 * - Redis unreachable: the write is refused (EntityLockUnavailableError), having run nothing:
 *   a read-merge-write without the fleet's lock could undo another replica's change.
 */

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Redis could not be asked for the lock: the write is refused before any upstream call. */
export class EntityLockUnavailableError extends Error {
  constructor(cause: unknown) {
    super('entity lock store unavailable', { cause });
    this.name = 'EntityLockUnavailableError';
  }
}

export interface RedisEntityLockOptions {
  client: Redis;
  keyPrefix: string;
  /** Longest wait for all keys of one `withLocks`. */
  maxWaitMs: number;
  /** Lease of each key, renewed while the holder runs; a dead holder's keys free up after it. */
  leaseMs: number;
  logger: Logger;
  /** How often a waiting writer tries again. */
  retryMs?: number;
}

export class RedisEntityLocks implements EntityLocks {
  private readonly retryMs: number;

  constructor(private readonly options: RedisEntityLockOptions) {
    this.retryMs = options.retryMs ?? 15;
  }

  async withLocks<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const { client, keyPrefix, leaseMs, maxWaitMs } = this.options;
    const sorted = [...new Set(keys)].sort();
    const holder = randomUUID();
    const started = Date.now();
    const taken: Array<{ key: string; value: string }> = [];
    let renewal: NodeJS.Timeout | undefined;
    try {
      for (const entity of sorted) {
        const key = `${keyPrefix}lock:${entity}`;
        let value: string;
        try {
          value = `${holder}:${await client.incr(`${keyPrefix}lock-fence`)}`;
        } catch (err) {
          throw new EntityLockUnavailableError(err);
        }
        for (;;) {
          let ok: string | null;
          try {
            ok = await client.set(key, value, 'PX', leaseMs, 'NX');
          } catch (err) {
            throw new EntityLockUnavailableError(err);
          }
          if (ok === 'OK') break;
          const waited = Date.now() - started;
          if (waited >= maxWaitMs) throw new EntityLockTimeoutError(entity, waited);
          await new Promise((resolve) => setTimeout(resolve, this.retryMs));
        }
        taken.push({ key, value });
      }
      renewal = setInterval(
        () => {
          for (const { key, value } of taken) {
            client.eval(RENEW, 1, key, value, leaseMs).then(
              (renewed) => {
                if (renewed !== 1) this.options.logger.warn({ lock: key }, 'entity lock lease lost while writing');
              },
              () => undefined,
            );
          }
        },
        Math.max(10, Math.floor(leaseMs / 3)),
      );
      renewal.unref();
      return await fn();
    } finally {
      if (renewal !== undefined) clearInterval(renewal);
      await Promise.all(
        taken.reverse().map(({ key, value }) => client.eval(RELEASE, 1, key, value).catch(() => undefined)),
      );
    }
  }
}
