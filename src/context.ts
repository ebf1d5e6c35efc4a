import { randomUUID } from 'node:crypto';
import type { Context as TraceContext } from '@opentelemetry/api';
import type { YogaInitialContext } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { AzureStatusFeed } from './live/azure-status-feed.js';
import { createAxisSource, createLoaders, createNpmSource } from './loaders.js';
import type { AxisSource, Loaders, NpmSource } from './loaders.js';
import type { AxisClient } from './upstreams/axis/client.js';
import type { NpmClient } from './upstreams/npm/client.js';
import type { EntityLocks } from './stores/entity-lock.js';
import type { CallContext } from './upstreams/http.js';
import { RequestBudget } from './request-budget.js';
import { LeanRequest } from './front/lean-request.js';
import type { BudgetLimits } from './request-budget.js';

/** What the context factory adds for every request; it holds this caller's data only. */
export interface GatewayRequestContext {
  requestId: string;
  /**
   * Passed to every upstream call made for this request: request id, the request's logger
   * (`call.log`, bound to the request id and made on first use; it lives here rather than on
   * the context because envelop copies context properties, which would create it every time)
   * the request's deadline, and `cancelReads`, aborted when the client goes away.
   */
  call: CallContext & { readonly log: Logger };
  loaders: Loaders;
  /** The upstream clients for this request: each write keeps `loaders` coherent. */
  npm: NpmSource;
  axis: AxisSource;
  axisAutoCommit: boolean;
  /** The gateway's one azureStatus poller (shared by every subscriber, not per request). */
  azureStatusFeed: AzureStatusFeed;
  /** Per-entity write locks (shared by every request): a read-merge-write holds them throughout. */
  locks: EntityLocks;
  /** Set by useIdempotency for a mutation sent with an Idempotency-Key. */
  idempotency?: {
    /** An earlier attempt with this key ended with an unknown outcome: this one may meet its effect. */
    retryOfUnknown: boolean;
  };
}

/** Everything a resolver may use: Yoga's request context plus ours. */
export type GatewayContext = YogaInitialContext & GatewayRequestContext;

export interface ContextDeps {
  logger: Logger;
  npm: NpmClient;
  axis: AxisClient;
  axisAutoCommit: boolean;
  /** Whole-request deadline: no upstream call of this request outlives it. */
  requestTimeoutMs: number;
  /** Per request: upstream calls, entities in the answer, concurrent upstream calls. */
  requestBudget: BudgetLimits;
  azureStatusFeed: AzureStatusFeed;
  locks: EntityLocks;
}

/** A caller's `x-request-id` is kept when it is short and printable; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given !== null && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The request's abort signal, as a plain AbortSignal. Under node:http, Yoga's server
 * adapter aborts `request.signal` when the response closes before it finished (the client
 * went away). With its fetch ponyfill that signal is a proxy whose own `aborted` stays
 * false once a native signal follows it (it forwards the abort to that native controller
 * only), and listeners added to it then never fire; `AbortSignal.any` makes that native
 * follower, which is a real AbortSignal. Undefined when the request has none.
 */
function clientGone(request: Request): AbortSignal | undefined {
  // The lean front's request (src/front/lean-request.ts) carries a native signal already.
  if (request instanceof LeanRequest) return request.signal;
  const given = (request as { signal?: AbortSignal | null }).signal;
  return given === undefined || given === null ? undefined : AbortSignal.any([given]);
}

export function createContextFactory(
  deps: ContextDeps,
  requestIds: WeakMap<Request, string>,
  /** The operation span's context per request, when tracing is on. */
  traces?: WeakMap<Request, TraceContext>,
) {
  return ({ request }: YogaInitialContext): GatewayRequestContext => {
    let requestId = requestIds.get(request);
    if (requestId === undefined) {
      requestId = requestIdFor(request);
      requestIds.set(request, requestId);
    }
    // The child logger is made on first use: most requests at `warn` never log a line.
    let log: Logger | undefined;
    const childLog = (): Logger => (log ??= deps.logger.child({ requestId }));
    const call: CallContext & { readonly log: Logger } = {
      requestId,
      get log() {
        return childLog();
      },
      deadline: Date.now() + deps.requestTimeoutMs,
    };
    // The request's AbortController lives in its budget; its signal ends every pending upstream
    // call of the request (a crossed budget limit; anything else that aborts it).
    const budget = new RequestBudget(deps.requestBudget);
    call.budget = budget;
    call.signal = budget.signal;
    const gone = clientGone(request);
    if (gone !== undefined) call.cancelReads = gone;
    const trace = traces?.get(request);
    if (trace !== undefined) call.trace = trace;
    const { loaders, hooks } = createLoaders(deps, call);
    return {
      requestId,
      call,
      loaders,
      npm: createNpmSource(deps.npm, hooks),
      axis: createAxisSource(deps.axis, hooks),
      axisAutoCommit: deps.axisAutoCommit,
      azureStatusFeed: deps.azureStatusFeed,
      locks: deps.locks,
    };
  };
}
