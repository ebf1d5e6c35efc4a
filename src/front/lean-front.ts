import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ExecutionResult, GraphQLError } from 'graphql';
import type { FetchAPI, YogaLogger } from 'graphql-yoga';
import type { Gateway } from '../gateway.js';
import { LeanRequest, LeanResponse } from './lean-request.js';

/**
 * The lean HTTP front (issue 14): the common request, a `POST /graphql` of JSON answered as
 * JSON, is served without Yoga's Fetch layer (no Fetch Request, Headers, Response or web
 * stream per request, no copy of the body through streams), and everything else goes to
 * Yoga unchanged. It is not a second server: it runs Yoga's own request pipeline, in Yoga's
 * order, over the very hooks Yoga runs (every plugin's onRequest, Yoga's `parseRequest`
 * with all onRequestParse hooks and its JSON parser, `getResultForParams` with the onParams
 * hooks and the enveloped parse/validate/context/execute, Yoga's `processResult` with the
 * onResultProcess hooks and its JSON result processor, then every onResponse hook), handing
 * them lightweight objects over node's request and response (lean-request.ts). So every
 * behaviour (auth and roles, rate and auth-failure limits, body limit, persisted operations,
 * operation limits, idempotency, masking, codes and statuses, request ids, metrics, logs,
 * tracing, Cache-Control, CORS and Vary) has one definition, its plugin, and both paths run it.
 *
 * CSRF: the lean front takes only `application/json` bodies, which a browser never sends
 * cross-site without a preflight; Yoga's CSRF plugin (an onRequestParse hook, run here too)
 * lets them pass for that reason.
 *
 * Taken from the headers alone, before a byte of the body is read, so a request the lean
 * front does not take reaches Yoga with its body intact.
 */

/** Media types of an Accept the lean front answers (Yoga's JSON result processor serves them). */
const JSON_ACCEPT: ReadonlySet<string> = new Set(['*/*', 'application/json', 'application/graphql-response+json']);

/** Whether an Accept header asks for JSON only (or anything): no SSE, no multipart. */
function acceptsJsonOnly(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return true;
  for (const part of accept.split(',')) {
    const type = part.split(';', 1)[0]!.trim().toLowerCase();
    if (!JSON_ACCEPT.has(type)) return false;
  }
  return true;
}

/** The requests the lean front serves, decided from the method, path and headers. */
export function leanTakes(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || req.url !== '/graphql') return false;
  const type = req.headers['content-type'];
  if (type === undefined || !(type === 'application/json' || type.startsWith('application/json;'))) return false;
  return acceptsJsonOnly(req.headers.accept);
}

const GRAPHQL_URL: URL = Object.freeze(new URL('http://localhost/graphql')) as URL;

type Hook = (payload: Record<string, unknown>) => unknown;
type Result = ExecutionResult | AsyncIterable<ExecutionResult> | ExecutionResult[] | undefined;
type AnyResponse = LeanResponse | Response;

/** What Yoga keeps on its instance (private in its typings) and this front runs. */
interface YogaInternals {
  plugins: Array<Record<string, unknown> | undefined | false>;
  onResultProcessHooks: Hook[];
  maskedErrorsOpts: unknown;
  logger: YogaLogger;
  fetchAPI: FetchAPI;
  parseRequest(
    request: unknown,
    serverContext: unknown,
  ):
    | Promise<{ response?: Response; requestParserResult?: unknown }>
    | { response?: Response; requestParserResult?: unknown };
  getResultForParams(payload: { params: unknown; request: unknown }, context: unknown): Promise<Result> | Result;
}

// Yoga's own error handling and result processing, from the installed graphql-yoga (pinned):
// its package exports only its index, which does not re-export these two.
const yogaEsm = join(dirname(createRequire(import.meta.url).resolve('graphql-yoga/package.json')), 'esm');
const { handleError } = (await import(pathToFileURL(join(yogaEsm, 'error.js')).href)) as {
  handleError(error: unknown, maskedErrorsOpts: unknown, logger: YogaLogger): GraphQLError[];
};
const { processResult } = (await import(pathToFileURL(join(yogaEsm, 'process-request.js')).href)) as {
  processResult(payload: {
    request: unknown;
    result: Result;
    fetchAPI: unknown;
    onResultProcessHooks: Hook[];
    serverContext: unknown;
  }): Promise<AnyResponse> | AnyResponse;
};

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** Writes a response built by a hook with Yoga's Fetch API (rare on this path: e.g. an early refusal). */
async function sendFetchResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const body = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

async function send(response: AnyResponse, res: ServerResponse): Promise<void> {
  if (res.destroyed || res.writableEnded) return;
  if (!(response instanceof LeanResponse)) return sendFetchResponse(response, res);
  const body = response.body;
  if (body !== null && typeof body === 'object' && !(body instanceof Uint8Array)) {
    // A streamed body (not produced for the requests this front takes; kept correct anyway).
    res.writeHead(response.status, response.headers.raw());
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
    res.end();
    return;
  }
  // A whole body with its length, as Yoga's adapter sends it (writeHead fixes the framing: without
  // a length node would send it chunked).
  const headers = response.headers.raw();
  headers['content-length'] = String(
    body === null || body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
  );
  res.writeHead(response.status, headers);
  res.end(body ?? undefined);
}

/** The node request listener, with how many requests each path served (tests check the split). */
export type FrontListener = RequestListener & { readonly served: { lean: number; yoga: number } };

/** The node request listener: the lean front for what it takes, Yoga for everything else. */
function createLeanFront(gateway: Gateway): FrontListener {
  const yoga = gateway as unknown as YogaInternals;
  if (
    !Array.isArray(yoga.plugins) ||
    !Array.isArray(yoga.onResultProcessHooks) ||
    typeof yoga.parseRequest !== 'function' ||
    typeof yoga.getResultForParams !== 'function' ||
    typeof handleError !== 'function' ||
    typeof processResult !== 'function'
  ) {
    throw new Error(
      'HTTP_FRONT=lean: this graphql-yoga lacks the internals the lean front runs (written against 5.24.1); set HTTP_FRONT=yoga',
    );
  }
  const onRequestHooks: Hook[] = [];
  const onResponseHooks: Hook[] = [];
  for (const plugin of yoga.plugins) {
    if (!plugin) continue;
    // Yoga-level instrumentation wraps its request pipeline, which this front does not: a plugin
    // with it would silently miss the lean path, so the gateway refuses to start instead.
    if (plugin['instrumentation'] !== undefined)
      throw new Error('HTTP_FRONT=lean: a plugin uses Yoga instrumentation, which the lean front does not run');
    if (typeof plugin['onRequest'] === 'function') onRequestHooks.push(plugin['onRequest'] as Hook);
    if (typeof plugin['onResponse'] === 'function') onResponseHooks.push(plugin['onResponse'] as Hook);
  }
  // Yoga's result processors build their Response with this: the JSON answer stays a string.
  const fetchAPI = Object.assign(Object.create(yoga.fetchAPI) as FetchAPI, { Response: LeanResponse });
  const waitUntil = (promise: unknown) => {
    if (isThenable(promise)) promise.then(undefined, (err: unknown) => yoga.logger.error(err));
  };

  /** Yoga's `handle`: parse the request, run the operation, process the result. */
  async function handle(request: LeanRequest, serverContext: Record<string, unknown>): Promise<AnyResponse> {
    const processed = (result: Result) =>
      processResult({ request, result, fetchAPI, onResultProcessHooks: yoga.onResultProcessHooks, serverContext });
    try {
      const parsed = await yoga.parseRequest(request, serverContext);
      if (parsed.response !== undefined) return parsed.response;
      const params = parsed.requestParserResult;
      // Batching is off (useLimitBatching refuses a list before this), as with Yoga.
      const result = await yoga.getResultForParams({ params, request }, serverContext);
      return await processed(result);
    } catch (error) {
      return processed({ errors: handleError(error, yoga.maskedErrorsOpts, yoga.logger) });
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let request: unknown = new LeanRequest(req, res);
    const serverContext: Record<string, unknown> = { req, res, waitUntil };
    let response: AnyResponse | undefined;
    let requestHandler: (request: LeanRequest, ctx: Record<string, unknown>) => Promise<AnyResponse> = handle;
    try {
      for (const hook of onRequestHooks) {
        let ended = false;
        const done = hook({
          request,
          setRequest(next: unknown) {
            request = next;
          },
          serverContext,
          fetchAPI,
          // The lean front takes exactly `/graphql`, no query string: what every hook reads of it.
          url: GRAPHQL_URL,
          requestHandler,
          setRequestHandler(next: typeof requestHandler) {
            requestHandler = next;
          },
          endResponse(next: AnyResponse | undefined) {
            response = next;
            if (next !== undefined) ended = true;
          },
        });
        if (isThenable(done)) await done;
        if (ended) break;
      }
      response ??= await requestHandler(request as LeanRequest, serverContext);
      for (const hook of onResponseHooks) {
        const done = hook({
          request,
          response,
          serverContext,
          setResponse(next: AnyResponse) {
            response = next;
          },
          fetchAPI,
        });
        if (isThenable(done)) await done;
      }
    } catch (err) {
      // As Yoga's server adapter answers an error thrown by a hook.
      yoga.logger.error(err);
      response = new LeanResponse('Internal Server Error', { status: 500 });
    }
    await send(response, res);
  }

  const served = { lean: 0, yoga: 0 };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!leanTakes(req)) {
      served.yoga++;
      (gateway as unknown as RequestListener)(req, res);
      return;
    }
    served.lean++;
    serve(req, res).catch((err: unknown) => {
      yoga.logger.error(err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
  return Object.assign(listener, { served });
}

/** The listener HTTP_FRONT asks for: the lean front over Yoga, or Yoga alone. */
export function httpFront(gateway: Gateway, front: 'lean' | 'yoga'): FrontListener {
  if (front === 'lean') return createLeanFront(gateway);
  const served = { lean: 0, yoga: 0 };
  return Object.assign(
    (req: IncomingMessage, res: ServerResponse) => {
      served.yoga++;
      (gateway as unknown as RequestListener)(req, res);
    },
    { served },
  );
}
