import { bulkhead } from 'cockatiel';
import type { BulkheadPolicy } from 'cockatiel';
import { GatewayError } from './errors.js';
import { AbortScope } from './upstreams/attempt-signal.js';

/**
 * The hard budget of one GraphQL request, whatever the cost estimate missed: how many
 * upstream calls it may make, how many entities its answer may hold, and how many of its
 * upstream calls may be in flight at once (its share of the upstream bulkhead, so one
 * request cannot fill the queue every other caller waits in).
 *
 * The first limit crossed ends the request's AbortScope (its CallContext scope): pending
 * upstream calls end at once, further ones are refused, and list fields answer
 * empty, so the remaining work is bounded by what was already done. useRequestBudget then
 * answers REQUEST_BUDGET_EXCEEDED naming the limit, and logs it once.
 */

export interface BudgetLimits {
  /** MAX_UPSTREAM_CALLS_PER_REQUEST: HTTP requests sent upstream, retries included. */
  maxUpstreamCalls: number;
  /** MAX_RESPONSE_ENTITIES: objects (users, groups, accounts, pages...) in the answer. */
  maxEntities: number;
  /** UPSTREAM_MAX_CONCURRENCY_PER_REQUEST: this request's calls in flight at once. */
  maxConcurrentCalls: number;
}

export type BudgetLimitName = 'MAX_UPSTREAM_CALLS_PER_REQUEST' | 'MAX_RESPONSE_ENTITIES';

export interface BudgetBreach {
  limit: BudgetLimitName;
  max: number;
}

const WHAT: Record<BudgetLimitName, string> = {
  MAX_UPSTREAM_CALLS_PER_REQUEST: 'upstream calls',
  MAX_RESPONSE_ENTITIES: 'entities in the answer',
};

export function budgetExceededError(breach: BudgetBreach): GatewayError {
  return new GatewayError(
    'REQUEST_BUDGET_EXCEEDED',
    `The request needs more than ${breach.max} ${WHAT[breach.limit]} (${breach.limit}); it was stopped. Ask for smaller pages or fewer nested lists.`,
    { limit: breach.limit, max: breach.max, http: { status: 400 } },
  );
}

/**
 * Entities one request's answer may grow by in one turn of the event loop. Completing an
 * entity (its fields, its place in the answer) costs graphql-js/jit some 5-15 µs on this
 * class of machine, garbage collection included, so a slice is a few milliseconds of
 * synchronous work: far under the ~100 ms a request may hold the loop (issue 11), and large
 * enough that an ordinary answer (a page of 50, the dashboard) never waits for a turn.
 */
export const ENTITIES_PER_TURN = 500;

const identity = <T>(value: T): T => value;

/**
 * Splits the completion of one big answer into slices of the event loop. A list a
 * resolver returns, or an entity a loader batch resolves, is handed on at once while the
 * request's slice lasts; past it, it waits for a later turn (setImmediate), in the order it
 * came, so other callers' I/O, timers and requests run between slices. Without this, what
 * one DataLoader batch or one page releases (3000 users' groups, 12 groups' 500 members
 * each) is all completed in one microtask drain: hundreds of milliseconds in which no other
 * caller is answered.
 */
class Pacer {
  private credit = ENTITIES_PER_TURN;
  /** Waiting values in arrival order; `head` is the next to go (no O(n) shift on a queue of thousands). */
  private waiting: Array<{ weight: number; release: () => void }> = [];
  private head = 0;
  private scheduled = false;

  pace<T>(value: T, weight: number, settle: (value: T) => T): T | Promise<T> {
    if (this.head === this.waiting.length && weight <= this.credit) {
      this.credit -= weight;
      return value;
    }
    return new Promise<T>((resolve) => {
      this.waiting.push({ weight, release: () => resolve(settle(value)) });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // An immediate queued from inside another runs on the next loop iteration, after I/O
    // and timers: each turn below is its own slice.
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    this.credit = ENTITIES_PER_TURN;
    // At least one value per turn, however heavy (a long list's items are paced one level down).
    const first = this.head;
    while (this.head < this.waiting.length && (this.head === first || this.waiting[this.head]!.weight <= this.credit)) {
      const next = this.waiting[this.head++]!;
      this.credit -= next.weight;
      next.release();
    }
    if (this.head < this.waiting.length) {
      this.schedule();
    } else {
      this.waiting = [];
      this.head = 0;
    }
  }
}

export class RequestBudget {
  /**
   * The request's upstream attempts (its CallContext's scope): the first limit crossed ends
   * them all, and the client leaving ends its reads (context.ts).
   */
  readonly scope = new AbortScope();
  /** Made only when `signal` is asked for. */
  private controller: AbortController | undefined;
  upstreamCalls = 0;
  entities = 0;
  breach: BudgetBreach | undefined;
  /**
   * Set for queries: once over budget their answer is replaced whole, so what is still
   * being resolved may be answered with placeholders instead of thousands of field errors
   * (each a GraphQLError with a stack: seconds of CPU for a big answer).
   */
  discardsAnswer = false;
  private gate: BulkheadPolicy | undefined;
  private readonly pacer = new Pacer();

  constructor(readonly limits: BudgetLimits) {}

  /** Aborted when a limit is crossed. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.breach !== undefined) this.controller.abort(budgetExceededError(this.breach));
    }
    return this.controller.signal;
  }

  /** Over budget, with an answer that will be discarded: the remaining work may be skipped. */
  get stopped(): boolean {
    return this.breach !== undefined && this.discardsAnswer;
  }

  /** Before every upstream HTTP request: throws REQUEST_BUDGET_EXCEEDED once over (no traffic). */
  chargeCall(): void {
    if (this.breach !== undefined) throw budgetExceededError(this.breach);
    if (++this.upstreamCalls > this.limits.maxUpstreamCalls) {
      throw budgetExceededError(this.exceed('MAX_UPSTREAM_CALLS_PER_REQUEST', this.limits.maxUpstreamCalls));
    }
  }

  /** `count` more entities in the answer: false once over the limit (the caller then answers nothing). */
  chargeEntities(count: number): boolean {
    if (this.breach !== undefined) return false;
    this.entities += count;
    if (this.entities <= this.limits.maxEntities) return true;
    this.exceed('MAX_RESPONSE_ENTITIES', this.limits.maxEntities);
    return false;
  }

  /**
   * A list a resolver returned, charged to the entity count and paced (Pacer): the list
   * itself while this turn of the event loop has room for it, else a promise of it a turn
   * later; `[]` once over the limit (then, and when a later turn finds the request stopped,
   * what remains of the answer is not built).
   */
  admit<T>(list: readonly T[]): readonly T[] | Promise<readonly T[]> {
    if (!this.chargeEntities(list.length)) return [];
    return this.pacer.pace(list, list.length, this.unlessBreached as (value: readonly T[]) => readonly T[]);
  }

  /** What a paced list settles to: itself, or nothing once the request is over budget (one closure per request, not per list). */
  private readonly unlessBreached = (list: readonly unknown[]): readonly unknown[] =>
    this.breach === undefined ? list : [];

  /**
   * A value that unblocks about `weight` entities of work (a loaded user whose fields are
   * then completed), paced like admit(): at once while this turn has room, else a turn later.
   */
  pace<T>(value: T, weight = 1): T | Promise<T> {
    return this.pacer.pace(value, weight, identity);
  }

  /**
   * Runs an upstream call within this request's share of the bulkhead. The queue never
   * refuses (the call count bounds it); a cancelled wait rejects with cockatiel's
   * TaskCancelledError, which the upstream layer turns into a local error.
   */
  throttle<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    this.gate ??= bulkhead(this.limits.maxConcurrentCalls, Number.MAX_SAFE_INTEGER);
    return this.gate.execute(call, signal);
  }

  private exceed(limit: BudgetLimitName, max: number): BudgetBreach {
    if (this.breach === undefined) {
      this.breach = { limit, max };
      const reason = budgetExceededError(this.breach);
      this.scope.endAll(reason);
      this.controller?.abort(reason);
    }
    return this.breach;
  }
}
