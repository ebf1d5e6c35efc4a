import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Where per-caller request budgets live. One process keeps them in memory; several
 * replicas behind a load balancer need a shared store (rate-limiter-flexible has Redis,
 * Valkey, Postgres... variants with the same `consume` contract) behind this interface.
 */
export interface RateLimitStore {
  take(callerId: string): Promise<RateLimitDecision>;
}

/** A steady `rps` per caller, plus a `burst` that refills over burst/rps seconds. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly limiter: BurstyRateLimiter;

  constructor({ rps, burst }: { rps: number; burst: number }) {
    const steady = new RateLimiterMemory({ keyPrefix: 'rps', points: Math.max(1, Math.round(rps)), duration: 1 });
    const extra = new RateLimiterMemory({
      keyPrefix: 'burst',
      points: Math.max(1, burst),
      duration: Math.max(1, Math.ceil(burst / Math.max(rps, 1))),
    });
    this.limiter = new BurstyRateLimiter(steady, extra);
  }

  async take(callerId: string): Promise<RateLimitDecision> {
    try {
      await this.limiter.consume(callerId);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: rejection.msBeforeNext };
      throw rejection;
    }
  }
}
