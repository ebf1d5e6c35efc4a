import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { IdempotencyUnavailableError } from './idempotency.js';
import type { Claim, IdempotencyStore, StoredResult } from './idempotency.js';

/**
 * Idempotency-Key outcomes for a fleet, with the semantics of MemoryIdempotencyStore (one
 * test suite, test/integration/stores/idempotency.test.ts, runs against both).
 *
 * One Redis string per scope, a JSON object:
 * - `{"f": <fingerprint>, "c": <claim id>}` while the first request runs, set inside a
 *   script that returns the existing value instead when there is one: the claim and the
 *   look-up are one atomic round trip, so two replicas claiming the same key at once get one
 *   `new` and one `running`. Beside it, `<key>:run` lives for runningTtl: once it is gone
 *   and the value is still running, the run was abandoned (its replica died mid-write) and
 *   its outcome is unknown, so the value stays for the TTL and the next claim of the same
 *   request takes it over as a retry of an unknown outcome (a create that did apply is then
 *   found, not met as a CONFLICT);
 * - `{"f": <fingerprint>, "r": <result>}` once finished, for the TTL;
 * - `{"f": <fingerprint>, "u": true}` for the TTL after a run whose outcome is unknown (it
 *   was sent and no definite answer came back): the key stays bound to that request, so other
 *   content is still refused, and the next claim of the same request replaces it with its
 *   own running value in the same script and runs as a retry of the unknown outcome (the
 *   resolvers then settle it: a create meeting its own first attempt is answered as created).
 * Completing and releasing compare the stored value with the claim's own (a claim that
 * expired and was taken by another request is never overwritten by its first owner).
 * A waiting duplicate polls the value until it changes, for runningTtl at most (then it claims again).
 */

/**
 * KEYS: the value, its run marker. ARGV: the new running value, runningTtl, this request's
 * unknown value, the prefix of this request's running values, the value's TTL. Returns
 * false (claimed), 1 (claimed as a retry of an unknown or abandoned run) or the value.
 */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[3] and (string.sub(v, 1, #ARGV[4]) ~= ARGV[4] or redis.call('EXISTS', KEYS[2]) == 1) then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
if v then return 1 end
return false
`;

/** Replace (finish) or delete (release) the value only while it is still this claim's. */
const SETTLE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`;

interface Entry {
  f: string;
  c?: string;
  r?: StoredResult;
  u?: true;
}

/** The value of a key whose last run ended unknown: compared as a string by CLAIM. */
const unknownValue = (f: string) => JSON.stringify({ f, u: true } satisfies Entry);
/** How every running value of this fingerprint starts (`{"f":"…","c":`): matched by CLAIM. */
const runningPrefix = (f: string) => `${JSON.stringify({ f }).slice(0, -1)},"c":`;

export interface RedisIdempotencyOptions {
  client: Redis;
  keyPrefix: string;
  /** How long a finished result is replayed (IDEMPOTENCY_TTL_S). */
  ttlMs: number;
  /** A claim still running after this long is treated as abandoned. */
  runningTtlMs: number;
  logger: Logger;
  /** How often a waiting duplicate looks again. */
  pollMs?: number;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  /** The value this replica wrote for each claim it holds. */
  private readonly mine = new Map<string, { value: string; retry: boolean }>();
  private readonly pollMs: number;

  constructor(private readonly options: RedisIdempotencyOptions) {
    this.pollMs = options.pollMs ?? 25;
  }

  private key(scope: string): string {
    // Scopes hold a caller id and a client-chosen key of up to 255 characters: hashed, keys stay short.
    return `${this.options.keyPrefix}idem:${createHash('sha256').update(scope).digest('base64url')}`;
  }

  async claim(scope: string, fingerprint: string): Promise<Claim> {
    const key = this.key(scope);
    const value = JSON.stringify({ f: fingerprint, c: randomUUID() } satisfies Entry);
    let existing: string | number | null;
    try {
      existing = (await this.options.client.eval(
        CLAIM,
        2,
        key,
        `${key}:run`,
        value,
        this.options.runningTtlMs,
        unknownValue(fingerprint),
        runningPrefix(fingerprint),
        Math.max(this.options.ttlMs, this.options.runningTtlMs),
      )) as string | number | null;
    } catch (err) {
      throw new IdempotencyUnavailableError(err);
    }
    if (existing === null || typeof existing === 'number') {
      this.mine.set(scope, { value, retry: existing !== null });
      return existing === null ? { state: 'new' } : { state: 'new', retryOfUnknown: true };
    }
    const entry = JSON.parse(existing) as Entry;
    if (entry.f !== fingerprint) return { state: 'mismatch' };
    if (entry.r !== undefined) return { state: 'done', result: entry.r };
    return { state: 'running', settled: this.changed(key, existing) };
  }

  async complete(scope: string, result: StoredResult): Promise<void> {
    const fingerprint = this.settling(scope);
    if (fingerprint === undefined) return;
    const { value, f } = fingerprint;
    await this.settle(scope, value, JSON.stringify({ f, r: result } satisfies Entry), this.options.ttlMs);
  }

  async release(scope: string, outcome: 'not_applied' | 'unknown' = 'not_applied'): Promise<void> {
    const fingerprint = this.settling(scope);
    if (fingerprint === undefined) return;
    // A retry that did nothing itself settles nothing: the first try may still have applied.
    if (outcome === 'not_applied' && !fingerprint.retry) await this.settle(scope, fingerprint.value, '', 0);
    else await this.settle(scope, fingerprint.value, unknownValue(fingerprint.f), this.options.ttlMs);
  }

  private settling(scope: string): { value: string; f: string; retry: boolean } | undefined {
    const held = this.mine.get(scope);
    if (held === undefined) return undefined;
    this.mine.delete(scope);
    return { value: held.value, f: (JSON.parse(held.value) as Entry).f, retry: held.retry };
  }

  private async settle(scope: string, claimed: string, next: string, ttlMs: number): Promise<void> {
    // The answer has gone (or goes) to the client either way. If Redis cannot record it, the
    // running claim expires after runningTtl and a later retry would run again: logged loudly.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const key = this.key(scope);
        await this.options.client.eval(SETTLE, 2, key, `${key}:run`, claimed, next, ttlMs);
        return;
      } catch (err) {
        if (attempt === 2)
          this.options.logger.error(
            { err, component: 'idempotency' },
            'could not record an idempotent outcome in redis; a retry after the claim expires would run again',
          );
        else await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
      }
    }
  }

  /** Resolves once the running value is replaced or gone (or Redis stops answering: the next claim says so). */
  private async changed(key: string, running: string): Promise<void> {
    const until = Date.now() + this.options.runningTtlMs;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      try {
        if ((await this.options.client.get(key)) !== running) return;
      } catch {
        return;
      }
    }
  }
}
