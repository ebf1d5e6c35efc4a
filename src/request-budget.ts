import { bulkhead } from 'cockatiel';
import type { BulkheadPolicy } from 'cockatiel';
import { GatewayError } from './errors.js';

/**
 * The hard budget of one GraphQL request, whatever the cost estimate missed: how many
 * upstream calls it may make, how many entities its answer may hold, and how many of its
 * upstream calls may be in flight at once (its share of the upstream bulkhead, so one
 * request cannot fill the queue every other caller waits in).
 *
 * The first limit crossed aborts the request's AbortController (its CallContext signal):
 * pending upstream calls end at once, further ones are refused, and list fields answer
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

export class RequestBudget {
  /** Aborted when a limit is crossed; the CallContext's signal. Others (client disconnect) may abort it too. */
  readonly controller = new AbortController();
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

  constructor(readonly limits: BudgetLimits) {}

  get signal(): AbortSignal {
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
   * Runs an upstream call within this request's share of the bulkhead. The queue never
   * refuses (the call count bounds it); a cancelled wait rejects with cockatiel's
   * TaskCancelledError, which the upstream layer turns into a local error.
   */
  throttle<T>(call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    this.gate ??= bulkhead(this.limits.maxConcurrentCalls, Number.MAX_SAFE_INTEGER);
    return this.gate.execute(call, signal);
  }

  private exceed(limit: BudgetLimitName, max: number): BudgetBreach {
    this.breach ??= { limit, max };
    this.controller.abort(budgetExceededError(this.breach));
    return this.breach;
  }
}
