import { setTimeout as sleep } from 'node:timers/promises';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  TaskCancelledError,
  bulkhead,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import type { BulkheadPolicy, CircuitBreakerPolicy } from 'cockatiel';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { UpstreamError } from './upstream-error.js';
import type { UpstreamName } from './upstream-error.js';
import type { Tracing } from '../tracing.js';

/**
 * The only place that speaks HTTP to an upstream: one keep-alive undici Pool per upstream,
 * a deadline covering connect, headers and body, and one translation of every response into
 * either parsed data or an `UpstreamError`. Clients above it only name routes and shapes.
 *
 * Resilience lives here too, so every route gets the same rules:
 * - a cap on concurrent calls (cockatiel bulkhead; overflow waits in a bounded queue);
 * - a circuit breaker: after `breakerThreshold` consecutive failures (unreachable, timeout,
 *   5xx) calls fail fast with no traffic until a probe succeeds;
 * - retries only where a repeat cannot do harm: GET on connection failures, timeouts, 429,
 *   502, 503, 504; PUT and DELETE only when the request never left (connect failure); POST
 *   never. Exponential backoff with jitter, `Retry-After` honoured, never past the deadline.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface VendorErrorBody {
  errorId?: string;
  text?: string;
}

export interface UpstreamCallEvent {
  upstream: UpstreamName;
  /** Route name such as `users.get`: bounded, never a raw id. */
  route: string;
  method: HttpMethod;
  status: number | undefined;
  durationMs: number;
  failure: UpstreamError['failure'] | undefined;
  /** 0 for the first try, 1 and 2 for retries. */
  attempt: number;
  /** Set when the gateway refused the call itself (no traffic). */
  local?: UpstreamError['details']['local'];
}

export interface ResilienceOptions {
  connectTimeoutMs: number;
  retries: number;
  maxConcurrency: number;
  maxQueue: number;
  breakerThreshold: number;
  breakerHalfOpenMs: number;
  /** Base of the exponential backoff; tests shorten it. */
  backoffBaseMs?: number;
  /** A longer `Retry-After` than this is not waited for: the error goes to the client with the hint. */
  maxRetryAfterMs?: number;
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
}

/** Generous for the largest page (1000 users with their groups is well under 2 MiB). */
const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

class BodyTooLargeError extends Error {}

/**
 * Reads a response body as UTF-8, refusing (and destroying the stream) once it grows
 * past `limit`: an upstream fault must never take the gateway's memory with it.
 */
async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
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
  /** `Date.now()` value by which the whole GraphQL request must be done; no call outlives it. */
  deadline?: number;
  /** The GraphQL operation's span (when tracing is on): upstream spans are its children. */
  trace?: Context;
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
  schema?: z.ZodType<T>;
  call?: CallContext | undefined;
}

/** The request never reached the upstream. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const DEFAULTS: ResilienceOptions = {
  connectTimeoutMs: 3_000,
  retries: 2,
  maxConcurrency: 64,
  maxQueue: 1_000,
  breakerThreshold: 5,
  breakerHalfOpenMs: 5_000,
  backoffBaseMs: 100,
  maxRetryAfterMs: 10_000,
};

/** `Retry-After` as delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Failures that say something about the upstream's health (not ours, not the caller's input). */
function isBreakerFailure(err: Error): boolean {
  if (!(err instanceof UpstreamError) || err.details.local !== undefined) return false;
  if (err.failure === 'unavailable' || err.failure === 'timeout') return true;
  return err.failure === 'http' && (err.status ?? 0) >= 500;
}

/** Whether repeating this call is safe and may help (see the module comment). */
export function isRetryable(method: HttpMethod, err: unknown): boolean {
  if (!(err instanceof UpstreamError) || err.details.local !== undefined) return false;
  if (method === 'GET') {
    if (err.failure === 'unavailable' || err.failure === 'timeout') return true;
    return err.failure === 'http' && RETRY_STATUSES.has(err.status ?? 0);
  }
  if (method === 'PUT' || method === 'DELETE') return err.details.notSent === true;
  return false;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined && cause !== err) return errorCode(cause);
  }
  return undefined;
}

export class UpstreamHttp {
  readonly upstream: UpstreamName;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly baseUrl: URL;
  private readonly maxBodyBytes: number;
  private readonly resilience: ResilienceOptions;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly bulkhead: BulkheadPolicy;

  constructor(private readonly options: UpstreamHttpOptions) {
    this.upstream = options.upstream;
    const url = new URL(options.baseUrl);
    this.baseUrl = url;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.resilience = { ...DEFAULTS, ...options.resilience };
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
        const delay = attempt < this.resilience.retries ? this.retryDelay(req, err, attempt) : undefined;
        if (delay === undefined) throw err;
        if (this.options.logger.isLevelEnabled('debug'))
          (req.call?.log ?? this.options.logger).debug(
            { upstream: this.upstream, route: req.route, attempt: attempt + 1, delayMs: delay },
            'retrying upstream call',
          );
        await sleep(delay, undefined, { ref: false });
      }
    }
  }

  /** The wait before the next attempt, or undefined when it must not be retried. */
  private retryDelay(req: UpstreamRequest<unknown>, err: unknown, attempt: number): number | undefined {
    if (!isRetryable(req.method, err)) return undefined;
    const r = this.resilience;
    const retryAfter = (err as UpstreamError).details.retryAfterMs;
    if (retryAfter !== undefined && retryAfter > (r.maxRetryAfterMs ?? 0)) return undefined;
    const ceiling = (r.backoffBaseMs ?? 100) * 2 ** attempt;
    // "Equal jitter": at least half the step, so retries never bunch up at zero.
    const backoff = ceiling / 2 + Math.random() * (ceiling / 2);
    const delay = Math.round(Math.max(backoff, retryAfter ?? 0));
    const deadline = req.call?.deadline;
    // Leave the next attempt some time to run, or do not bother.
    if (deadline !== undefined && Date.now() + delay + 50 >= deadline) return undefined;
    return delay;
  }

  private async attempt<T>(req: UpstreamRequest<T>, attempt: number): Promise<T> {
    const started = performance.now();
    let status: number | undefined;
    const deadline = req.call?.deadline;
    const budget =
      deadline === undefined ? this.options.timeoutMs : Math.min(this.options.timeoutMs, deadline - Date.now());
    const span = this.options.tracing && this.startSpan(req, attempt);
    try {
      if (budget <= 0) throw new UpstreamError('timeout', this.upstream, { local: 'deadline', notSent: true });
      const timer = AbortSignal.timeout(budget);
      const signal = req.call?.signal ? AbortSignal.any([timer, req.call.signal]) : timer;
      const result = await this.bulkhead
        .execute(() => this.breaker.execute(() => this.send(req, signal, timer, (s) => (status = s), span)), signal)
        .catch((err: unknown) => {
          throw this.localError(err, timer);
        });
      this.finish(req, status, started, undefined, attempt);
      span?.setAttribute('http.response.status_code', status ?? 0).end();
      return result;
    } catch (err) {
      const failure = err instanceof UpstreamError ? err.failure : 'unavailable';
      const local = err instanceof UpstreamError ? err.details.local : undefined;
      this.finish(req, status, started, failure, attempt, local);
      if (span) {
        if (status !== undefined) span.setAttribute('http.response.status_code', status);
        span.setAttribute('error.type', local ?? failure);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof UpstreamError ? err.message : 'failed' });
        span.end();
      }
      throw err;
    }
  }

  /** An attempt's CLIENT span, child of the GraphQL operation's span (OTel HTTP client conventions). */
  private startSpan(req: UpstreamRequest<unknown>, attempt: number): Span {
    const url = this.baseUrl;
    return this.options.tracing!.tracer.startSpan(
      `${req.method} ${this.upstream} ${req.route}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': req.method,
          'server.address': url.hostname,
          'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          'url.full': url.origin + this.basePath + req.path,
          'gateway.upstream': this.upstream,
          'gateway.upstream.route': req.route,
          ...(attempt > 0 ? { 'http.request.resend_count': attempt } : {}),
        },
      },
      req.call?.trace ?? ROOT_CONTEXT,
    );
  }

  /** cockatiel's own refusals, as upstream errors a client understands. */
  private localError(err: unknown, timer: AbortSignal): unknown {
    if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError)
      return new UpstreamError('unavailable', this.upstream, { local: 'circuit_open', notSent: true });
    if (err instanceof BulkheadRejectedError)
      return new UpstreamError('unavailable', this.upstream, { local: 'queue_full', notSent: true });
    if (err instanceof TaskCancelledError)
      return timer.aborted
        ? new UpstreamError('timeout', this.upstream, { local: 'deadline', notSent: true })
        : new UpstreamError('unavailable', this.upstream, { notSent: true, cause: err });
    return err;
  }

  private async send<T>(
    req: UpstreamRequest<T>,
    signal: AbortSignal,
    timer: AbortSignal,
    onStatus: (status: number) => void,
    span: Span | undefined,
  ): Promise<T> {
    const search = req.query
      ? '?' + new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)])).toString()
      : '';
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (req.call?.requestId !== undefined) headers['x-request-id'] = req.call.requestId;
    if (span) this.options.tracing!.inject(span, headers);
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
        signal,
      });
      status = res.statusCode;
      onStatus(status);
      text = await readLimited(res.body, this.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new UpstreamError('bad_response', this.upstream, { status, text: 'response body too large' });
      }
      throw this.transportError(err, timer);
    }
    if (status < 200 || status >= 300) {
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
      throw new UpstreamError('http', this.upstream, {
        status,
        ...this.options.parseErrorBody(parsed),
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

  private finish(
    req: UpstreamRequest<unknown>,
    status: number | undefined,
    started: number,
    failure: UpstreamError['failure'] | undefined,
    attempt: number,
    local?: UpstreamError['details']['local'],
  ): void {
    const durationMs = performance.now() - started;
    // The request's logger has the root's level; asking the root does not create it.
    if (this.options.logger.isLevelEnabled('debug')) {
      (req.call?.log ?? this.options.logger).debug(
        {
          upstream: this.upstream,
          route: req.route,
          method: req.method,
          status,
          failure,
          attempt,
          local,
          ms: Math.round(durationMs * 10) / 10,
        },
        'upstream call',
      );
    }
    this.options.onCall?.({
      upstream: this.upstream,
      route: req.route,
      method: req.method,
      status,
      durationMs,
      failure,
      attempt,
      ...(local !== undefined ? { local } : {}),
    });
  }

  private transportError(err: unknown, timer: AbortSignal): UpstreamError {
    const code = errorCode(err);
    const notSent = code !== undefined && CONNECT_CODES.has(code);
    if (timer.aborted || (code !== undefined && TIMEOUT_CODES.has(code))) {
      return new UpstreamError('timeout', this.upstream, { cause: err, notSent });
    }
    // Connection refused or reset, TLS failures, aborted caller signals and anything else
    // undici can raise: the upstream could not be used, which is what a client needs to know.
    return new UpstreamError('unavailable', this.upstream, { cause: err, notSent });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
