/**
 * The HTTP harness both simulators share: socket tracking, request counting,
 * latency, fault injection, the `/__sim/*` control API and error containment.
 * A vendor module supplies the route table, the handlers and its error body;
 * this file never knows which vendor it is serving.
 *
 * Request pipeline for an API route:
 *   match route (404/405 in the vendor's error body, not counted)
 *   -> count (on arrival, so a faulted or hung request still counts)
 *   -> read body -> latency -> first matching fault rule -> vendor handler.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { FaultAction, FaultRule } from './faults.js';
import { FaultInjector, RequestCounter, describeZodError, latencySchema } from './faults.js';

export interface Simulator<State = unknown> {
  /** Listens (port 0 = random) and resolves the base URL, e.g. `http://127.0.0.1:54321`. */
  start(port?: number, host?: string): Promise<string>;
  /** Closes the server and destroys keep-alive sockets and hung requests, so it returns promptly. */
  stop(): Promise<void>;
  /** Base URL after `start()`; empty string before. */
  readonly url: string;
  /** Requests per API route name plus `total`; `/__sim/*` is never counted. */
  counts(): Record<string, number>;
  /**
   * Of those, the requests whose client closed the connection before the answer was
   * complete (a call the gateway cancelled, or a socket closed by `stop()`), per route plus
   * `total`. Reset with the counts.
   */
  abandoned(): Record<string, number>;
  /**
   * The most API requests in flight at once (arrived, answer not yet complete) since the
   * last resetCounts(): in all, or only those carrying this `x-request-id` (the gateway
   * sends its request's id upstream), so a test can see how much of the upstream one
   * gateway request held at a time. With setLatency() the calls overlap for sure.
   */
  peakInFlight(requestId?: string): number;
  resetCounts(): void;
  /** Appends a fault rule; throws on an invalid rule or an unknown route name. */
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Delay added before every API response (0 = none). */
  setLatency(ms: number): void;
  /** Data back to seed, counts 0, faults cleared, latency 0, issued tokens revoked (static tokens valid again). */
  reset(): void;
  /** Every token known now answers "expired" from now on. */
  expireTokens(): void;
  /** Internal state for tests (includes secrets: never log it). */
  state(): State;
}

export interface SimRequest {
  readonly method: string;
  readonly pathname: string;
  /** Raw query string without `?`. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface SimResponse {
  readonly status: number;
  /** Serialised body (a Buffer when the vendor caches its encoding); absent = no body. */
  readonly body?: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Shape of a route's success body, so `wrongShape` faults can return the wrong one. */
type ResponseShape = 'object' | 'array' | 'envelope' | 'empty';

export interface Route {
  readonly name: string;
  readonly shape: ResponseShape;
  readonly handle: (req: SimRequest, params: readonly string[]) => SimResponse | Promise<SimResponse>;
}

export type RouteLookup =
  | { readonly kind: 'route'; readonly route: Route; readonly params: readonly string[] }
  | { readonly kind: 'notFound' }
  | { readonly kind: 'methodNotAllowed'; readonly allow: readonly string[] };

export interface SimVendor<State> {
  /** Used in log lines and as the server's identity, e.g. `npm-sim`. */
  readonly label: string;
  /** Content type of JSON answers (vendors differ on `; charset=utf-8`). */
  readonly contentType: string;
  readonly routeNames: readonly string[];
  /** Routes that wildcard fault rules skip (they must be named explicitly). */
  readonly faultExemptRoutes?: readonly string[];
  lookup(method: string, pathname: string): RouteLookup;
  /** The vendor's error body for `status`; `errorId`/`text` override the defaults. */
  errorReply(status: number, errorId?: string, text?: string): SimResponse;
  state(): State;
  resetData(): void;
  expireTokens(): void;
  /** Clears the vendor's own timers; called by `stop()` and `reset()`. */
  dispose(): void;
}

export interface SimServerOptions {
  /** One line per request on stdout (method, path, status, ms); never headers or bodies. */
  readonly log?: boolean | undefined;
  /** Uniform in [0, 1) for probabilistic fault rules; default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Sees every API request (route name and headers) as it arrives. */
  readonly onRequest?: ((route: string, headers: IncomingHttpHeaders) => void) | undefined;
}

export function jsonReply(status: number, value: unknown, headers?: Record<string, string>): SimResponse {
  return headers === undefined
    ? { status, body: JSON.stringify(value) }
    : { status, body: JSON.stringify(value), headers };
}

export const NO_CONTENT: SimResponse = Object.freeze({ status: 204 });

/** Parsed JSON, or `undefined` plus the reason when the body is empty or not JSON. */
export function parseJsonBody(body: Buffer): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (body.length === 0) return { ok: false, reason: 'request body is required' };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false, reason: 'request body is not valid JSON' };
  }
}

/** Larger bodies are drained and answered 413 in the vendor's error body. */
const MAX_BODY_BYTES = 1024 * 1024;

/** Intentionally truncated JSON for the `malformed` fault. */
const MALFORMED_BODY = '{"data": [tru';

class BodyTooLargeError extends Error {
  constructor() {
    super('request body too large');
    this.name = 'BodyTooLargeError';
  }
}

const EMPTY_BODY = Buffer.alloc(0);

/** A request that announces no body (no Content-Length > 0, no Transfer-Encoding) has none to wait for. */
function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  // Most API calls are GETs: skip the stream round trip (node:http dumps the empty stream itself).
  if (hasNoBody(req)) return Promise.resolve(EMPTY_BODY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new BodyTooLargeError());
      else resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

function baseUrlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

export function createSimServer<State>(vendor: SimVendor<State>, options: SimServerOptions = {}): Simulator<State> {
  const log = options.log === true;
  const counter = new RequestCounter(vendor.routeNames);
  const abandoned = new RequestCounter(vendor.routeNames);
  const inFlight = new InFlightCounter();
  const faults = new FaultInjector(vendor.routeNames, vendor.faultExemptRoutes ?? [], options.random);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let latencyMs = 0;
  let server: Server | undefined;
  let baseUrl = '';

  /** A stop()-aware sleep: the timer is unref'd and cleared by stop(), so nothing keeps the process alive. */
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      timers.add(timer);
    });
  }

  function send(res: ServerResponse, reply: SimResponse, contentType: string): void {
    if (res.headersSent || res.destroyed) return;
    const headers: OutgoingHttpHeaders = {};
    if (reply.headers !== undefined) {
      for (const [name, value] of Object.entries(reply.headers)) headers[name.toLowerCase()] = value;
    }
    const bodyAllowed = reply.status !== 204 && reply.status !== 304;
    if (reply.body !== undefined && bodyAllowed) {
      headers['content-type'] ??= contentType;
      headers['content-length'] = Buffer.byteLength(reply.body);
      res.writeHead(reply.status, headers);
      res.end(reply.body);
    } else {
      if (bodyAllowed) headers['content-length'] = 0;
      res.writeHead(reply.status, headers);
      res.end();
    }
  }

  function logLine(method: string, pathname: string, status: number | string, started: number): void {
    if (!log) return;
    const ms = (performance.now() - started).toFixed(1);
    process.stdout.write(`[${vendor.label}] ${method} ${pathname} ${status} ${ms}ms\n`);
  }

  const sim: Simulator<State> = {
    get url() {
      return baseUrl;
    },
    async start(port = 0, host = '127.0.0.1') {
      if (server !== undefined) throw new Error(`${vendor.label} is already started at ${baseUrl}`);
      const srv = createServer((req, res) => {
        void onRequest(req, res);
      });
      // Longer than any sensible client keep-alive so the client closes idle
      // sockets first and never writes into one the server is closing.
      srv.keepAliveTimeout = 65_000;
      srv.headersTimeout = 66_000;
      srv.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      srv.on('clientError', (_err, socket) => {
        socket.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        srv.once('error', onError);
        srv.listen(port, host, () => {
          srv.off('error', onError);
          resolve();
        });
      });
      server = srv;
      baseUrl = baseUrlOf(srv.address() as AddressInfo);
      return baseUrl;
    },
    async stop() {
      vendor.dispose();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const srv = server;
      server = undefined;
      if (srv === undefined) return;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        // Keep-alive sockets, hung requests and sockets mid-latency all go now.
        srv.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
    },
    counts: () => counter.snapshot(),
    abandoned: () => abandoned.snapshot(),
    peakInFlight: (requestId) => inFlight.peak(requestId),
    resetCounts: () => {
      counter.reset();
      abandoned.reset();
      inFlight.reset();
    },
    addFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    setLatency(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error('latency must be a non-negative number of milliseconds');
      latencyMs = ms;
    },
    reset() {
      vendor.dispose();
      vendor.resetData();
      counter.reset();
      abandoned.reset();
      inFlight.reset();
      faults.clear();
      latencyMs = 0;
    },
    expireTokens: () => vendor.expireTokens(),
    state: () => vendor.state(),
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = log ? performance.now() : 0;
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const pathname = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = q === -1 ? '' : rawUrl.slice(q + 1);
    req.on('error', () => undefined);
    res.on('error', () => undefined);

    try {
      if (pathname === '/__sim' || pathname.startsWith('/__sim/')) {
        const reply = await control(method, pathname, req);
        send(res, reply, 'application/json');
        logLine(method, pathname, reply.status, started);
        return;
      }

      const found = vendor.lookup(method, pathname);
      if (found.kind !== 'route') {
        await readBody(req).catch(() => undefined);
        const reply =
          found.kind === 'notFound'
            ? vendor.errorReply(404, undefined, `No resource at ${pathname}`)
            : withHeader(
                vendor.errorReply(405, undefined, `Method ${method} is not allowed on ${pathname}`),
                'allow',
                found.allow.join(', '),
              );
        send(res, reply, vendor.contentType);
        logLine(method, pathname, reply.status, started);
        return;
      }

      const route = found.route;
      counter.hit(route.name);
      options.onRequest?.(route.name, req.headers);
      const requestId = req.headers['x-request-id'];
      const leave = inFlight.enter(typeof requestId === 'string' ? requestId : undefined);
      res.once('close', () => {
        leave();
        if (!res.writableFinished) abandoned.hit(route.name);
      });

      let body: Buffer;
      try {
        body = await readBody(req);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          send(res, vendor.errorReply(413, undefined, 'Request body too large'), vendor.contentType);
        }
        return;
      }

      if (latencyMs > 0) await sleep(latencyMs);

      const fault = faults.take(route.name, method);
      if (fault?.type === 'applyThenHang') {
        // Applied, and the answer never leaves: stop() destroys the socket.
        await route.handle({ method, pathname, query, headers: req.headers, body }, found.params);
        logLine(method, pathname, `fault:${fault.type}`, started);
        return;
      }
      if (fault !== undefined) {
        const outcome = await applyFault(fault, route, req, res, body);
        if (outcome !== 'continue') {
          logLine(method, pathname, `fault:${fault.type}`, started);
          return;
        }
      }

      const reply = await route.handle({ method, pathname, query, headers: req.headers, body }, found.params);
      send(res, reply, vendor.contentType);
      logLine(method, pathname, reply.status, started);
    } catch (err) {
      // Never crash on any input: a handler bug becomes the vendor's 500.
      if (log)
        process.stderr.write(`[${vendor.label}] handler error: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!res.headersSent && !res.destroyed) {
        send(res, vendor.errorReply(500, undefined, 'Internal server error'), vendor.contentType);
      } else {
        res.destroy();
      }
    }
  }

  async function applyFault(
    fault: FaultAction,
    route: Route,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<'continue' | 'answered'> {
    switch (fault.type) {
      case 'echo': {
        const echo = JSON.stringify({
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: body.toString('utf8'),
        });
        const reply =
          fault.into === 'errorId'
            ? vendor.errorReply(fault.status, echo, 'echoed request')
            : vendor.errorReply(fault.status, undefined, `invalid request: ${echo}`);
        send(res, reply, vendor.contentType);
        return 'answered';
      }
      case 'applyThenHang':
        return 'answered';
      case 'delay':
        await sleep(fault.ms);
        return 'continue';
      case 'status': {
        const reply: SimResponse =
          fault.body === undefined
            ? { status: fault.status, ...(fault.headers === undefined ? {} : { headers: fault.headers }) }
            : {
                status: fault.status,
                body: JSON.stringify(fault.body),
                ...(fault.headers === undefined ? {} : { headers: fault.headers }),
              };
        send(res, reply, vendor.contentType);
        return 'answered';
      }
      case 'error': {
        const reply = vendor.errorReply(fault.status, fault.errorId, fault.text);
        send(
          res,
          fault.headers === undefined ? reply : { ...reply, headers: { ...reply.headers, ...fault.headers } },
          vendor.contentType,
        );
        return 'answered';
      }
      case 'hang':
        // Nothing is written; stop() destroys the socket.
        return 'answered';
      case 'reset': {
        const socket = req.socket;
        // resetAndDestroy sends a TCP RST, so the client sees ECONNRESET rather than a clean close.
        if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
        else socket.destroy();
        return 'answered';
      }
      case 'malformed':
        send(res, { status: 200, body: MALFORMED_BODY }, vendor.contentType);
        return 'answered';
      case 'wrongShape': {
        const body = route.shape === 'array' || route.shape === 'envelope' ? '{"data":"nope"}' : '{"unexpected":true}';
        send(res, { status: 200, body }, vendor.contentType);
        return 'answered';
      }
    }
  }

  /** The control API: not counted, no auth, no faults, no latency. */
  async function control(method: string, pathname: string, req: IncomingMessage): Promise<SimResponse> {
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return jsonReply(413, { error: 'request body too large' });
    }
    const endpoint = CONTROL_ENDPOINTS.get(pathname);
    if (endpoint === undefined) return jsonReply(404, { error: `unknown control endpoint ${pathname}` });
    if (!endpoint.includes(method)) {
      return jsonReply(405, { error: `method ${method} not allowed on ${pathname}` }, { allow: endpoint.join(', ') });
    }
    switch (`${method} ${pathname}`) {
      case 'GET /__sim/health':
        return jsonReply(200, { ok: true, sim: vendor.label });
      case 'GET /__sim/counts':
        return jsonReply(200, sim.counts());
      case 'GET /__sim/state':
        return jsonReply(200, { ...(vendor.state() as object), faults: faults.list(), latencyMs });
      case 'POST /__sim/reset':
        sim.reset();
        return NO_CONTENT;
      case 'POST /__sim/reset-counts':
        sim.resetCounts();
        return NO_CONTENT;
      case 'POST /__sim/expire-tokens':
        sim.expireTokens();
        return NO_CONTENT;
      case 'DELETE /__sim/faults':
        sim.clearFaults();
        return NO_CONTENT;
      case 'POST /__sim/faults': {
        const parsed = parseJsonBody(body);
        if (!parsed.ok) return jsonReply(400, { error: parsed.reason });
        try {
          faults.add(parsed.value);
        } catch (err) {
          return jsonReply(400, { error: err instanceof Error ? err.message : 'invalid fault rule' });
        }
        return NO_CONTENT;
      }
      case 'POST /__sim/latency': {
        const parsed = parseJsonBody(body);
        if (!parsed.ok) return jsonReply(400, { error: parsed.reason });
        const latency = latencySchema.safeParse(parsed.value);
        if (!latency.success) return jsonReply(400, { error: describeZodError(latency.error) });
        latencyMs = latency.data.ms;
        return NO_CONTENT;
      }
      default:
        return jsonReply(404, { error: `unknown control endpoint ${pathname}` });
    }
  }

  return sim;
}

const CONTROL_ENDPOINTS: ReadonlyMap<string, readonly string[]> = new Map([
  ['/__sim/health', ['GET']],
  ['/__sim/counts', ['GET']],
  ['/__sim/state', ['GET']],
  ['/__sim/reset', ['POST']],
  ['/__sim/reset-counts', ['POST']],
  ['/__sim/expire-tokens', ['POST']],
  ['/__sim/faults', ['POST', 'DELETE']],
  ['/__sim/latency', ['POST']],
]);

function withHeader(reply: SimResponse, name: string, value: string): SimResponse {
  return { ...reply, headers: { ...reply.headers, [name]: value } };
}

/** Extracts the token from `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235). */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  if (value === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/**
 * API requests in flight, in all and per `x-request-id`, with the peak of each since the
 * last reset. Bounded: past MAX_IDS distinct ids, new ones count in the total only.
 */
class InFlightCounter {
  static readonly MAX_IDS = 10_000;
  #now = 0;
  #peak = 0;
  readonly #byId = new Map<string, { now: number; peak: number }>();

  /** Counts one request in; the function returned counts it out (once). */
  enter(requestId: string | undefined): () => void {
    this.#peak = Math.max(this.#peak, ++this.#now);
    let entry = requestId === undefined ? undefined : this.#byId.get(requestId);
    if (requestId !== undefined && entry === undefined && this.#byId.size < InFlightCounter.MAX_IDS) {
      entry = { now: 0, peak: 0 };
      this.#byId.set(requestId, entry);
    }
    const mine = entry;
    if (mine) mine.peak = Math.max(mine.peak, ++mine.now);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#now--;
      if (mine) mine.now--;
    };
  }

  peak(requestId?: string): number {
    return requestId === undefined ? this.#peak : (this.#byId.get(requestId)?.peak ?? 0);
  }

  /** Peaks back to what is in flight now (a request still running keeps counting). */
  reset(): void {
    this.#peak = this.#now;
    for (const [id, entry] of this.#byId) {
      if (entry.now === 0) this.#byId.delete(id);
      else entry.peak = entry.now;
    }
  }
}
