/**
 * Where `Idempotency-Key` outcomes live. One process keeps them in memory; several replicas
 * need a shared store (Redis `SET NX PX` for the claim, a value for the result, pub/sub or
 * polling for waiters) behind this interface.
 */

/** A finished response, JSON-safe so a shared store can hold it. */
export interface StoredResult {
  data?: unknown;
  errors?: Array<{
    message: string;
    locations?: ReadonlyArray<{ line: number; column: number }>;
    /** Offsets into the operation's document (what graphql-js rebuilds `locations` from). */
    positions?: number[];
    path?: ReadonlyArray<string | number>;
    extensions?: Record<string, unknown>;
  }>;
}

export type Claim =
  /**
   * Run the operation, then `complete` or `release`: the first use of the key, or a retry
   * after an attempt whose outcome stayed unknown (`retryOfUnknown`: it may meet that
   * attempt's effect, e.g. its own create).
   */
  | { state: 'new'; retryOfUnknown?: boolean }
  /** Same key, same request, already answered. */
  | { state: 'done'; result: StoredResult }
  /** Same key, different request: refuse. */
  | { state: 'mismatch' }
  /** Same key, same request, still running: wait, then claim again. */
  | { state: 'running'; settled: Promise<void> };

export interface IdempotencyStore {
  claim(scope: string, fingerprint: string): Promise<Claim>;
  complete(scope: string, result: StoredResult): Promise<void>;
  /**
   * The operation has no final answer: it did nothing (`not_applied`: the key is forgotten),
   * or its outcome is unknown (`unknown`: the key stays bound to this request's fingerprint
   * for the TTL, so other content is still refused, but the next try runs it again).
   * Either way a retry with the same key runs the operation. A claim that was itself a
   * retry of an unknown outcome and did nothing (`not_applied`) leaves the outcome unknown:
   * the earlier try may still have applied.
   */
  release(scope: string, outcome?: 'not_applied' | 'unknown'): Promise<void>;
}

interface Entry {
  fingerprint: string;
  /** Until then the key stays bound to `fingerprint` (other content is refused). */
  expiresAt: number;
  /** While running: past this, the run counts as abandoned and its outcome as unknown. */
  runningUntil: number;
  result: StoredResult | undefined;
  /** The last run ended with an unknown outcome; nobody runs it now. */
  unknown: boolean;
  /** This run retries an unknown outcome: if it does nothing itself, the outcome stays unknown. */
  retry: boolean;
  settled: Promise<void>;
  settle: () => void;
}

export interface MemoryIdempotencyOptions {
  /** How long a finished result is replayed (IDEMPOTENCY_TTL_S). */
  ttlMs: number;
  /**
   * A claim still running after this long is treated as abandoned: its outcome is unknown
   * (it may have applied), so the next try runs as a retry of an unknown outcome.
   */
  runningTtlMs: number;
  /** Oldest entries are dropped beyond this many (bounded memory under abuse). */
  maxEntries?: number;
  now?: () => number;
}

/** `settled`, or `ms` from now, whichever is first: a duplicate never waits on a run past its runningTtl. */
function bounded(settled: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([settled, expired]).finally(() => clearTimeout(timer));
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: MemoryIdempotencyOptions) {
    this.maxEntries = options.maxEntries ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  claim(scope: string, fingerprint: string): Promise<Claim> {
    const now = this.now();
    const existing = this.entries.get(scope);
    if (existing !== undefined && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return Promise.resolve({ state: 'mismatch' });
      if (existing.result !== undefined) return Promise.resolve({ state: 'done', result: existing.result });
      if (!existing.unknown && existing.runningUntil > now)
        return Promise.resolve({ state: 'running', settled: bounded(existing.settled, existing.runningUntil - now) });
      // Unknown outcome, or a run abandoned (it may have applied): this try runs it (and
      // settles it); later ones wait for this one.
      existing.settle();
      this.entries.delete(scope);
      this.entries.set(scope, { ...this.running(fingerprint, now), retry: true });
      return Promise.resolve({ state: 'new', retryOfUnknown: true });
    }
    if (existing !== undefined) this.drop(scope, existing);
    this.sweep(now);
    this.entries.set(scope, this.running(fingerprint, now));
    return Promise.resolve({ state: 'new' });
  }

  private running(fingerprint: string, now: number): Entry {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    return {
      fingerprint,
      expiresAt: now + Math.max(this.options.ttlMs, this.options.runningTtlMs),
      runningUntil: now + this.options.runningTtlMs,
      result: undefined,
      unknown: false,
      retry: false,
      settled,
      settle,
    };
  }

  complete(scope: string, result: StoredResult): Promise<void> {
    const entry = this.entries.get(scope);
    if (entry !== undefined && entry.result === undefined) {
      entry.result = result;
      entry.expiresAt = this.now() + this.options.ttlMs;
      // Re-insert so Map order stays "oldest expiry first" for the sweep.
      this.entries.delete(scope);
      this.entries.set(scope, entry);
      entry.settle();
    }
    return Promise.resolve();
  }

  release(scope: string, outcome: 'not_applied' | 'unknown' = 'not_applied'): Promise<void> {
    const entry = this.entries.get(scope);
    if (entry === undefined || entry.result !== undefined || entry.unknown) return Promise.resolve();
    // A retry that did nothing itself settles nothing: the first try may still have applied.
    if (outcome === 'not_applied' && !entry.retry) {
      this.drop(scope, entry);
      return Promise.resolve();
    }
    entry.unknown = true;
    entry.expiresAt = this.now() + this.options.ttlMs;
    this.entries.delete(scope);
    this.entries.set(scope, entry);
    entry.settle();
    return Promise.resolve();
  }

  private drop(scope: string, entry: Entry): void {
    this.entries.delete(scope);
    entry.settle();
  }

  /** Drops expired entries from the front, and the oldest beyond the cap. */
  private sweep(now: number): void {
    for (const [scope, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.drop(scope, entry);
    }
  }
}

/**
 * Thrown by a shared store that cannot be reached: the keyed mutation is refused
 * (IDEMPOTENCY_UNAVAILABLE) before any upstream call, since a write that cannot be recorded
 * could be doubled by its own retry.
 */
export class IdempotencyUnavailableError extends Error {
  readonly code = 'IDEMPOTENCY_UNAVAILABLE';
  constructor(cause: unknown) {
    super('idempotency store unavailable', { cause });
    this.name = 'IdempotencyUnavailableError';
  }
}
