import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Where per-caller request budgets live: in memory for one process (MemoryRateLimitStore),
 * in Redis for a fleet (RedisRateLimitStore). Both are the same rule, built by
 * `budgetLimiter` over rate-limiter-flexible limiters of one kind, and one test suite
 * (test/integration/stores/rate-limit.test.ts) runs against both.
 */
export interface RateLimitStore {
  take(callerId: string): Promise<RateLimitDecision>;
}

export interface RateLimitBudget {
  rps: number;
  burst: number;
}

type LimiterOptions = { keyPrefix: string; points: number; duration: number };

/** A steady `rps` per caller, plus a `burst` that refills over burst/rps seconds. */
function budgetLimiter({ rps, burst }: RateLimitBudget, make: (o: LimiterOptions) => RateLimiterAbstract) {
  const steady = make({ keyPrefix: 'rps', points: Math.max(1, Math.round(rps)), duration: 1 });
  const extra = make({
    keyPrefix: 'burst',
    points: Math.max(1, burst),
    duration: Math.max(1, Math.ceil(burst / Math.max(rps, 1))),
  });
  return new BurstyRateLimiter(steady, extra);
}

async function take(limiter: BurstyRateLimiter, callerId: string): Promise<RateLimitDecision> {
  try {
    await limiter.consume(callerId);
    return { allowed: true };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: rejection.msBeforeNext };
    throw rejection;
  }
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly limiter: BurstyRateLimiter;

  constructor(budget: RateLimitBudget) {
    this.limiter = budgetLimiter(budget, (o) => new RateLimiterMemory(o));
  }

  take(callerId: string): Promise<RateLimitDecision> {
    return take(this.limiter, callerId);
  }
}

/**
 * One budget per caller for the whole fleet: rate-limiter-flexible counts in Redis
 * atomically (one Lua round trip per limiter). While Redis is unreachable each replica
 * falls back to an in-memory insurance limiter with the same budget, so the fleet admits
 * up to N times the budget during an outage rather than refusing everyone.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly limiter: BurstyRateLimiter;

  constructor(budget: RateLimitBudget & { client: Redis; keyPrefix: string }) {
    this.limiter = budgetLimiter(
      budget,
      (o) =>
        new RateLimiterRedis({
          ...o,
          keyPrefix: `${budget.keyPrefix}rate:${o.keyPrefix}`,
          storeClient: budget.client,
          // Not connected: go to the insurance limiter at once rather than wait for a timeout.
          rejectIfRedisNotReady: true,
          insuranceLimiter: new RateLimiterMemory(o),
        }),
    );
  }

  take(callerId: string): Promise<RateLimitDecision> {
    return take(this.limiter, callerId);
  }
}
