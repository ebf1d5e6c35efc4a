import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Tracing } from '../tracing.js';
import type { HttpMethod, UpstreamRequest } from './http.js';
import { UpstreamError } from './upstream-error.js';
import type { UpstreamFailure, UpstreamName } from './upstream-error.js';

/**
 * What an upstream attempt reports: a debug log line, an `UpstreamCallEvent` for metrics,
 * and (when tracing is on) a CLIENT span, child of the GraphQL operation's span, following
 * the OTel HTTP client conventions. Route names, never raw ids or bodies.
 */

export interface UpstreamCallEvent {
  upstream: UpstreamName;
  /** Route name such as `users.get`: bounded, never a raw id. */
  route: string;
  method: HttpMethod;
  status: number | undefined;
  durationMs: number;
  failure: UpstreamFailure | undefined;
  /** 0 for the first try, 1 and 2 for retries. */
  attempt: number;
  /** Set when the gateway refused the call itself (no traffic). */
  local?: UpstreamError['details']['local'];
}

export interface InstrumentationOptions {
  upstream: UpstreamName;
  /** The upstream's base URL: spans record its host and each call's full URL. */
  baseUrl: URL;
  /** The root logger; a call's own logger (CallContext.log) is used when there is one. */
  logger: Logger;
  /** Called once per finished attempt; the seam for metrics. */
  onCall?: ((event: UpstreamCallEvent) => void) | undefined;
  tracing?: Tracing | undefined;
}

/** One attempt in flight, from `start` to `succeeded` or `failed`. */
export interface Attempt {
  readonly req: UpstreamRequest<unknown>;
  /** 0 for the first try. */
  readonly attempt: number;
  /** `performance.now()` when it started. */
  readonly started: number;
  readonly span: Span | undefined;
}

export class CallInstrumentation {
  private readonly basePath: string;

  constructor(private readonly options: InstrumentationOptions) {
    this.basePath = options.baseUrl.pathname.replace(/\/+$/, '');
  }

  start(req: UpstreamRequest<unknown>, attempt: number): Attempt {
    const started = performance.now();
    return { req, attempt, started, span: this.options.tracing && this.startSpan(req, attempt) };
  }

  /** Adds `traceparent` for the attempt's span to the outgoing headers (nothing when tracing is off). */
  inject(a: Attempt, headers: Record<string, string>): void {
    if (a.span) this.options.tracing!.inject(a.span, headers);
  }

  succeeded(a: Attempt, status: number | undefined): void {
    this.finish(a, status, undefined);
    a.span?.setAttribute('http.response.status_code', status ?? 0).end();
  }

  failed(a: Attempt, status: number | undefined, err: unknown): void {
    const failure = err instanceof UpstreamError ? err.failure : 'unavailable';
    const local = err instanceof UpstreamError ? err.details.local : undefined;
    this.finish(a, status, failure, local);
    const span = a.span;
    if (span) {
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      span.setAttribute('error.type', local ?? failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof UpstreamError ? err.message : 'failed' });
      span.end();
    }
  }

  retrying(req: UpstreamRequest<unknown>, attempt: number, delayMs: number): void {
    if (this.options.logger.isLevelEnabled('debug'))
      (req.call?.log ?? this.options.logger).debug(
        { upstream: this.options.upstream, route: req.route, attempt, delayMs },
        'retrying upstream call',
      );
  }

  private startSpan(req: UpstreamRequest<unknown>, attempt: number): Span {
    const url = this.options.baseUrl;
    return this.options.tracing!.tracer.startSpan(
      `${req.method} ${this.options.upstream} ${req.route}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': req.method,
          'server.address': url.hostname,
          'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          'url.full': url.origin + this.basePath + req.path,
          'gateway.upstream': this.options.upstream,
          'gateway.upstream.route': req.route,
          ...(attempt > 0 ? { 'http.request.resend_count': attempt } : {}),
        },
      },
      req.call?.trace ?? ROOT_CONTEXT,
    );
  }

  private finish(
    a: Attempt,
    status: number | undefined,
    failure: UpstreamFailure | undefined,
    local?: UpstreamError['details']['local'],
  ): void {
    const { req, attempt } = a;
    const durationMs = performance.now() - a.started;
    // The request's logger has the root's level; asking the root does not create it.
    if (this.options.logger.isLevelEnabled('debug')) {
      (req.call?.log ?? this.options.logger).debug(
        {
          upstream: this.options.upstream,
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
      upstream: this.options.upstream,
      route: req.route,
      method: req.method,
      status,
      durationMs,
      failure,
      attempt,
      ...(local !== undefined ? { local } : {}),
    });
  }
}
