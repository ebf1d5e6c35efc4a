import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitState, ConsecutiveBreaker, bulkhead, circuitBreaker, handleWhen } from 'cockatiel';
import type { BulkheadPolicy, CircuitBreakerPolicy } from 'cockatiel';
import type { Context } from '@opentelemetry/api';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { RequestBudget } from '../request-budget.js';
import type { Tracing } from '../tracing.js';
import { isBreakerFailure, localError, transportError } from './failures.js';
import { AttemptSignal } from './attempt-signal.js';
import type { AbortScope } from './attempt-signal.js';
import { CallInstrumentation } from './instrumentation.js';
import type { Attempt, UpstreamCallEvent } from './instrumentation.js';
import { parseRetryAfter, retryDelay } from './retry-policy.js';
import type { RetryOptions } from './retry-policy.js';
import { UpstreamError } from './upstream-error.js';
import type { WireSchema } from './wire.js';
import type { UpstreamName } from './upstream-error.js';
import { SecretSet, secretsInBody, secretsInHeaders, withoutSecrets } from '../secrecy.js';

/**
 * The only place that speaks HTTP to an upstream: one keep-alive undici Pool per upstream,
 * a deadline covering connect, headers and body, and one translation of every response into
 * either parsed data or an `UpstreamError`. Clients above it only name routes and shapes.
 *
 * Resilience lives here too, so every route gets the same rules:
 * - a cap on concurrent calls (cockatiel bulkhead; overflow waits in a bounded queue);
 * - a circuit breaker: after `breakerThreshold` consecutive failures (unreachable, timeout,
 *   5xx) calls fail fast with no traffic until a probe succeeds (which failures count:
 *   failures.ts);
 * - retries only where a repeat cannot do harm (retry-policy.ts).
 * What each attempt reports (log line, metrics event, span) is in instrumentation.ts.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface VendorErrorBody {
  errorId?: string;
  text?: string;
}

export interface ResilienceOptions extends RetryOptions {
  connectTimeoutMs: number;
  maxConcurrency: number;
  maxQueue: number;
  breakerThreshold: number;
  breakerHalfOpenMs: number;
}

export type CircuitStateName = 'closed' | 'open' | 'half_open' | 'isolated';

export interface UpstreamHttpOptions {
  upstream: UpstreamName;
  baseUrl: string;
  /** Per attempt, headers and body. */
  timeoutMs: number;
  resilience?: Partial<ResilienceOptions>;
  logger: Logger;
  /** Reads the vendor's error body (Riverbed `{error_id, error_text}`, Axis `{status, details}`). */
  parseErrorBody: (body: unknown) => VendorErrorBody;
  tls?: { rejectUnauthorized: boolean; ca?: string | undefined };
  /** Called once per finished attempt; the seam for metrics. */
  onCall?: (event: UpstreamCallEvent) => void;
  /** A CLIENT span per attempt, with `traceparent` sent upstream; absent when tracing is off. */
  tracing?: Tracing;
  /** Largest response body accepted; a bigger one is UPSTREAM_BAD_RESPONSE, not an out-of-memory crash. */
  maxBodyBytes?: number;
  /**
   * The gateway's own credentials (configSecrets): an upstream error text or id holding a
   * fragment of one, or of a secret this call sent (its auth header, its body's secret
   * fields), is dropped before the UpstreamError is made (see secrecy.ts).
   */
  secrets?: SecretSet;
}

/** Generous for the largest page (1000 users with their groups is well under 2 MiB). */
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

class BodyTooLargeError extends Error {}

/**
 * Reads a response body as UTF-8, refusing (and destroying the stream) once it grows
 * past `limit`: an upstream fault must never take the gateway's memory with it.
 */
async function readLimited(
  body: Dispatcher.ResponseData['body'],
  limit: number,
  contentLength: string | string[] | undefined,
): Promise<string> {
  // A declared length within the limit (the parser holds the body to it): undici reads it whole,
  // without a stream iterator per call.
  const declared = typeof contentLength === 'string' ? Number(contentLength) : NaN;
  if (declared <= limit) return body.text();
  if (declared > limit) {
    // Nothing reads it: without a listener the stream's abort error would be thrown uncaught.
    body.once('error', () => undefined);
    body.destroy();
    throw new BodyTooLargeError();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new BodyTooLargeError();
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
}

/**
 * Who a call is made for: the request id (logged, and sent upstream as `x-request-id` so
 * the two sides' logs can be joined), the request's logger, and an optional signal that
 * ends the call early (a whole-request deadline).
 */
export interface CallContext {
  requestId?: string;
  log?: Logger;
  signal?: AbortSignal;
  /**
   * The request's own reasons to stop (AbortScope): a crossed budget limit ends every
   * attempt; the client going away (its connection closed) ends the reads (GET) at once,
   * queued or on the wire, and they are not retried, so a dashboard left mid-load stops
   * calling the upstreams. Writes outlive a client that left: one already sent runs to its
   * end, so the upstream and the gateway's idempotency record agree on what happened.
   */
  scope?: AbortScope;
  /** `Date.now()` value by which the whole GraphQL request must be done; no call outlives it. */
  deadline?: number;
  /** The GraphQL operation's span (when tracing is on): upstream spans are its children. */
  trace?: Context;
  /** The request's execution budget: every attempt is charged to it and runs within its share of the bulkhead. */
  budget?: RequestBudget;
}

export interface UpstreamRequest<T> {
  route: string;
  method: HttpMethod;
  /** Path below the base URL, with every id already passed through encodeURIComponent. */
  path: string;
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  body?: unknown;
  /** Schema of a success body; omit for routes that answer with no body (204). */
  schema?: WireSchema<T>;
  call?: CallContext | undefined;
}

const DEFAULTS: ResilienceOptions = {
  connectTimeoutMs: 3_000,
  retries: 2,
  maxConcurrency: 64,
  maxQueue: 1_000,
  breakerThreshold: 5,
  breakerHalfOpenMs: 5_000,
};

export class UpstreamHttp {
  private readonly upstream: UpstreamName;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly maxBodyBytes: number;
  private readonly resilience: ResilienceOptions;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly bulkhead: BulkheadPolicy;
  private readonly calls: CallInstrumentation;

  constructor(private readonly options: UpstreamHttpOptions) {
    this.upstream = options.upstream;
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.resilience = { ...DEFAULTS, ...options.resilience };
    this.calls = new CallInstrumentation({
      upstream: options.upstream,
      baseUrl: url,
      logger: options.logger,
      onCall: options.onCall,
      tracing: options.tracing,
    });
    const r = this.resilience;
    this.pool = new Pool(url.origin, {
      // The bulkhead caps concurrency; the pool keeps that many sockets warm.
      connections: r.maxConcurrency,
      pipelining: 1,
      // Shorter than the usual upstream keep-alive so we close idle sockets first and
      // never write a request onto a socket the server is closing.
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
      connectTimeout: r.connectTimeoutMs,
      // The attempt's own AbortSignal timer is the exact deadline. undici's header and body
      // timers tick coarsely (they can fire ~0.5 s early), so they only back it up.
      headersTimeout: options.timeoutMs + 1_000,
      bodyTimeout: options.timeoutMs + 1_000,
      connect: options.tls
        ? { rejectUnauthorized: options.tls.rejectUnauthorized, ...(options.tls.ca ? { ca: options.tls.ca } : {}) }
        : undefined,
    });
    this.breaker = circuitBreaker(handleWhen(isBreakerFailure), {
      halfOpenAfter: r.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(r.breakerThreshold),
    });
    this.breaker.onStateChange(() => {
      const state = this.circuitState();
      if (state === 'open') options.logger.warn({ upstream: this.upstream }, 'circuit opened: failing fast');
      else options.logger.info({ upstream: this.upstream, state }, 'circuit state changed');
    });
    this.bulkhead = bulkhead(r.maxConcurrency, r.maxQueue);
  }

  /** For /ready and metrics. */
  circuitState(): CircuitStateName {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half_open';
      default:
        return 'isolated';
    }
  }

  /** One logical call: attempts, retries and backoff, each attempt through the bulkhead and breaker. */
  async request<T>(req: UpstreamRequest<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(req, attempt);
      } catch (err) {
        const delay = retryDelay(this.resilience, req.method, err, attempt, req.call?.deadline);
        if (delay === undefined) throw err;
        this.calls.retrying(req, attempt + 1, delay);
        await sleep(delay, undefined, { ref: false });
      }
    }
  }

  private async attempt<T>(req: UpstreamRequest<T>, attempt: number): Promise<T> {
    // Over its budget, a request sends nothing more (REQUEST_BUDGET_EXCEEDED, not an upstream failure).
    const requestBudget = req.call?.budget;
    requestBudget?.chargeCall();
    let status: number | undefined;
    const deadline = req.call?.deadline;
    const budget =
      deadline === undefined ? this.options.timeoutMs : Math.min(this.options.timeoutMs, deadline - Date.now());
    const a = this.calls.start(req, attempt);
    // A read also ends when its client goes away; a write already sent is never cut short.
    const ends =
      budget > 0
        ? new AttemptSignal(
            budget,
            [req.call?.signal],
            req.call?.scope === undefined ? undefined : { scope: req.call.scope, read: req.method === 'GET' },
          )
        : undefined;
    try {
      if (ends === undefined) throw new UpstreamError('timeout', this.upstream, { local: 'deadline', notSent: true });
      const signal = ends.signal.asSignal();
      const call = () =>
        this.bulkhead.execute(() => this.breaker.execute(() => this.send(req, ends, (s) => (status = s), a)), signal);
      // Within the request's own share first, so one request never holds the whole bulkhead.
      const result = await (requestBudget ? requestBudget.throttle(call, signal) : call()).catch((err: unknown) => {
        throw localError(this.upstream, err, ends);
      });
      this.calls.succeeded(a, status);
      return result;
    } catch (err) {
      this.calls.failed(a, status, err);
      throw err;
    } finally {
      ends?.dispose();
    }
  }

  private async send<T>(
    req: UpstreamRequest<T>,
    ends: AttemptSignal,
    onStatus: (status: number) => void,
    a: Attempt,
  ): Promise<T> {
    const search = req.query
      ? '?' + new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)])).toString()
      : '';
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (req.call?.requestId !== undefined) headers['x-request-id'] = req.call.requestId;
    this.calls.inject(a, headers);
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    let status: number | undefined;
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await this.pool.request({
        method: req.method,
        path: this.basePath + req.path + search,
        headers,
        body,
        signal: ends.signal.asSignal(),
      });
      status = res.statusCode;
      onStatus(status);
      text = await readLimited(res.body, this.maxBodyBytes, res.headers['content-length']);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new UpstreamError('bad_response', this.upstream, { status, text: 'response body too large' });
      }
      throw transportError(this.upstream, err, ends);
    }
    if (status < 200 || status >= 300) {
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const sent = new SecretSet([...secretsInHeaders(req.headers), ...secretsInBody(req.body)]);
      throw new UpstreamError('http', this.upstream, {
        status,
        ...withoutSecrets(this.options.parseErrorBody(parsed), sent, this.options.secrets ?? sent),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    if (req.schema === undefined) return undefined as T;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new UpstreamError('bad_response', this.upstream, { status, text: 'body is not JSON', cause });
    }
    const checked = req.schema.safeParse(json);
    if (!checked.success) {
      // Paths only: the values may be personal data.
      const where = checked.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`);
      (req.call?.log ?? this.options.logger).warn(
        { upstream: this.upstream, route: req.route, issues: where },
        'upstream response has an unexpected shape',
      );
      throw new UpstreamError('bad_response', this.upstream, { status, text: 'unexpected response shape' });
    }
    return checked.data;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
