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
   * the request's deadline, and its `scope`, which ends its calls when its budget runs out
   * and its reads when the client goes away.
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
 * Calls `gone` once when the client goes away before its answer is complete. The lean
 * front's request (src/front/lean-request.ts) watches node's response directly. Under Yoga,
 * its node adapter aborts `request.signal` when the response closes before it finished;
 * with its fetch ponyfill that signal is a proxy whose own `aborted` stays false once a
 * native signal follows it (it forwards the abort to that native controller only), and
 * listeners added to it then never fire; `AbortSignal.any` makes that native follower.
 */
function onClientGone(request: Request, gone: (reason: unknown) => void): void {
  if (request instanceof LeanRequest) return request.onGone(gone);
  const given = (request as { signal?: AbortSignal | null }).signal;
  if (given === undefined || given === null) return;
  const follower = AbortSignal.any([given]);
  follower.addEventListener('abort', () => gone(follower.reason), { once: true });
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
    // The request's AbortScope lives in its budget: a crossed limit ends every pending upstream
    // call of the request, the client leaving ends its reads.
    const budget = new RequestBudget(deps.requestBudget);
    call.budget = budget;
    const scope = budget.scope;
    call.scope = scope;
    onClientGone(request, (reason) => scope.endReads(reason));
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
