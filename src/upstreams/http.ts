import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { UpstreamError } from '../errors.js';
import type { UpstreamName } from '../errors.js';

/**
 * The only place that speaks HTTP to an upstream: one keep-alive undici Pool per upstream,
 * a deadline covering connect, headers and body, and one translation of every response into
 * either parsed data or an `UpstreamError`. Clients above it only name routes and shapes.
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
}

export interface UpstreamHttpOptions {
  upstream: UpstreamName;
  baseUrl: string;
  timeoutMs: number;
  logger: Logger;
  /** Reads the vendor's error body (Riverbed `{error_id, error_text}`, Axis `{status, details}`). */
  parseErrorBody: (body: unknown) => VendorErrorBody;
  tls?: { rejectUnauthorized: boolean; ca?: string | undefined };
  /** Sockets kept open to the upstream. */
  connections?: number;
  /** Called once per finished call; the seam for metrics and tracing. */
  onCall?: (event: UpstreamCallEvent) => void;
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

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
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
  private readonly maxBodyBytes: number;

  constructor(private readonly options: UpstreamHttpOptions) {
    this.upstream = options.upstream;
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 64,
      pipelining: 1,
      // Shorter than the usual upstream keep-alive so we close idle sockets first and
      // never write a request onto a socket the server is closing.
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 30_000,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: options.tls
        ? { rejectUnauthorized: options.tls.rejectUnauthorized, ...(options.tls.ca ? { ca: options.tls.ca } : {}) }
        : undefined,
    });
  }

  async request<T>(req: UpstreamRequest<T>): Promise<T> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const signal = req.call?.signal ? AbortSignal.any([deadline, req.call.signal]) : deadline;
    let status: number | undefined;
    try {
      const search = req.query
        ? '?' + new URLSearchParams(Object.entries(req.query).map(([k, v]) => [k, String(v)])).toString()
        : '';
      const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
      if (req.call?.requestId !== undefined) headers['x-request-id'] = req.call.requestId;
      let body: string | undefined;
      if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers['content-type'] = 'application/json';
      }
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
        text = await readLimited(res.body, this.maxBodyBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          throw new UpstreamError('bad_response', this.upstream, { status, text: 'response body too large' });
        }
        throw this.transportError(err, deadline);
      }
      if (status < 200 || status >= 300) {
        let parsed: unknown;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        throw new UpstreamError('http', this.upstream, { status, ...this.options.parseErrorBody(parsed) });
      }
      if (req.schema === undefined) {
        this.finish(req, status, started, undefined);
        return undefined as T;
      }
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
      this.finish(req, status, started, undefined);
      return checked.data;
    } catch (err) {
      this.finish(req, status, started, err instanceof UpstreamError ? err.failure : 'unavailable');
      throw err;
    }
  }

  private finish(
    req: UpstreamRequest<unknown>,
    status: number | undefined,
    started: number,
    failure: UpstreamError['failure'] | undefined,
  ): void {
    const durationMs = performance.now() - started;
    const log = req.call?.log ?? this.options.logger;
    if (log.isLevelEnabled('debug')) {
      log.debug(
        {
          upstream: this.upstream,
          route: req.route,
          method: req.method,
          status,
          failure,
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
    });
  }

  private transportError(err: unknown, deadline: AbortSignal): UpstreamError {
    const code = errorCode(err);
    if (deadline.aborted || (code !== undefined && TIMEOUT_CODES.has(code))) {
      return new UpstreamError('timeout', this.upstream, { cause: err });
    }
    if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
      return new UpstreamError('unavailable', this.upstream, { cause: err });
    }
    // TLS failures, aborted caller signals and anything else undici can raise: the
    // upstream could not be used, which is what a client needs to know.
    return new UpstreamError('unavailable', this.upstream, { cause: err });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
