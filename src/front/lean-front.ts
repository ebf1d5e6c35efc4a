import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { FetchAPI } from 'graphql-yoga';
import type { Gateway } from '../gateway.js';
import { LeanRequest, LeanResponse } from './lean-request.js';
import { createLeanOperation, handleError, isThenable } from './lean-operation.js';
import type { YogaOperationInternals } from './lean-operation.js';

/**
 * The lean HTTP front (issue 14): the common request, a `POST /graphql` of JSON answered as
 * JSON, is served without Yoga's Fetch layer (no Fetch Request, Headers, Response or web
 * stream per request, no copy of the body through streams), and everything else goes to
 * Yoga unchanged. It is not a second server: it runs Yoga's own request pipeline, in Yoga's
 * order, over the very hooks Yoga registered (every plugin's onRequest; the onRequestParse
 * hooks and the parser they set, Yoga's JSON one; the onParams hooks and Yoga's
 * handleParams, the enveloped parse/validate/context and envelop's execute hooks
 * (lean-operation.ts); the onExecutionResult and
 * onResultProcess hooks and the processor they choose, Yoga's JSON one; every onResponse
 * hook), stepping through each list as Yoga's server.js does, handing
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
  const known = acceptSeen.get(accept);
  if (known !== undefined) return known;
  let json = true;
  for (const part of accept.split(',')) {
    const type = part.split(';', 1)[0]!.trim().toLowerCase();
    if (!JSON_ACCEPT.has(type)) json = false;
  }
  // A client sends the same Accept every time: remember the first few short ones (callers choose them, so bounded).
  if (acceptSeen.size < ACCEPT_SEEN_MAX && accept.length <= 256) acceptSeen.set(accept, json);
  return json;
}
const acceptSeen = new Map<string, boolean>();
const ACCEPT_SEEN_MAX = 64;

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
interface YogaInternals extends YogaOperationInternals {
  onRequestParseHooks: Hook[];
  onParamsHooks: Hook[];
  onExecutionResultHooks: Hook[];
  onResultProcessHooks: Hook[];
  fetchAPI: FetchAPI;
}

/** Runs the enveloped parse, validate, context and execute (or subscribe) for one request's params. */
type ParamsHandler = (payload: { request: unknown; params: unknown; context: unknown }) => Promise<Result> | Result;

/** A request parser set by an onRequestParse hook (Yoga's JSON one, or the guard's wrapper of it). */
type RequestParser = (request: unknown) => unknown;
type ResultProcessor = (result: Result, fetchAPI: FetchAPI, acceptedMediaType: string) => unknown;

/** Writes a response built by a hook with Yoga's Fetch API (rare on this path: e.g. an early refusal). */
async function sendFetchResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  const body = response.body === null ? undefined : Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(body);
}

/**
 * From this length a body goes out as one Buffer (see send). Shorter ones stay a string: their
 * copies are small, and the head and body go out as one write rather than a writev.
 */
const BUFFER_FROM_CHARS = 4096;

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
  if (typeof body === 'string' && body.length >= BUFFER_FROM_CHARS) {
    // V8's JSON.stringify answers a result as a rope of parts. Buffer.byteLength flattens it
    // into a copy on the heap, and node joins the head and a string body into a second rope
    // that the socket write flattens again. A Buffer takes one heap copy (its own bytes are
    // off the heap) and goes out with the head in one writev.
    const bytes = Buffer.from(body, 'utf8');
    headers['content-length'] = String(bytes.byteLength);
    res.writeHead(response.status, headers);
    res.end(bytes);
    return;
  }
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
    !Array.isArray(yoga.onRequestParseHooks) ||
    !Array.isArray(yoga.onParamsHooks) ||
    !Array.isArray(yoga.onExecutionResultHooks) ||
    !Array.isArray(yoga.onResultProcessHooks) ||
    typeof yoga.getEnveloped !== 'function' ||
    typeof handleError !== 'function'
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
  // Yoga's handleParams, with envelop's execute step as plain loops (lean-operation.ts).
  const handleParams = createLeanOperation(yoga) as ParamsHandler;
  const waitUntil = (promise: unknown) => {
    if (isThenable(promise)) promise.then(undefined, (err: unknown) => yoga.logger.error(err));
  };

  // Yoga's `handle` (server.js: parseRequest, getResultForParams, processResult), step for step
  // over the same hook lists, as plain loops: Yoga runs each list through promise helpers that
  // allocate a few objects per hook per request, a cost this path exists to avoid.

  /** Yoga's parseRequest: every onRequestParse hook, the parser one of them set, then each onRequestParseDone. */
  async function parseRequest(
    request: LeanRequest,
    serverContext: Record<string, unknown>,
  ): Promise<{ response: AnyResponse } | { params: unknown }> {
    let requestParser: RequestParser | undefined;
    let response: AnyResponse | undefined;
    let ended = false;
    const parseDone: Hook[] = [];
    // The setters are made once per request, not once per hook (each hook still gets its own payload).
    const setRequestParser = (parser: RequestParser) => {
      requestParser = parser;
    };
    const endResponse = (next: AnyResponse) => {
      response = next;
      ended = true;
    };
    for (const hook of yoga.onRequestParseHooks) {
      let out = hook({
        request,
        // The lean front takes exactly `/graphql`, no query string: what every hook reads of it.
        url: GRAPHQL_URL,
        requestParser,
        serverContext,
        setRequestParser,
        endResponse,
        fetchAPI: yoga.fetchAPI,
      });
      if (isThenable(out)) out = await out;
      const done = (out as { onRequestParseDone?: Hook } | undefined)?.onRequestParseDone;
      if (done) parseDone.push(done);
      if (ended) break;
    }
    if (response !== undefined) return { response };
    if (requestParser === undefined) {
      return { response: new yoga.fetchAPI.Response(null, { status: 415, statusText: 'Unsupported Media Type' }) };
    }
    let parsed = requestParser(request);
    if (isThenable(parsed)) parsed = await parsed;
    const maybe = parsed as { status?: unknown; headers?: unknown } | undefined;
    // Yoga's isResponse: a parser may answer with a response instead of params.
    if (maybe?.status && maybe.headers) return { response: parsed as AnyResponse };
    let params = parsed;
    for (const done of parseDone) {
      const out = done({
        requestParserResult: params,
        setRequestParserResult(next: unknown) {
          params = next;
        },
      });
      if (isThenable(out)) await out;
    }
    return { params };
  }

  /** Yoga's getResultForParams: the onParams hooks, the operation, then the onExecutionResult hooks. */
  async function resultForParams(params: unknown, request: LeanRequest, context: unknown): Promise<Result> {
    let result: Result;
    let paramsHandler: ParamsHandler = handleParams;
    const setParams = (next: unknown) => {
      params = next;
    };
    const setParamsHandler = (next: ParamsHandler) => {
      paramsHandler = next;
    };
    const setResult = (next: Result) => {
      result = next;
    };
    for (const hook of yoga.onParamsHooks) {
      const out = hook({
        params,
        request,
        setParams,
        paramsHandler,
        setParamsHandler,
        setResult,
        fetchAPI: yoga.fetchAPI,
        context,
      });
      if (isThenable(out)) await out;
    }
    result ||= await paramsHandler({ request, params, context });
    for (const hook of yoga.onExecutionResultHooks) {
      const out = hook({ result, setResult, request, context });
      if (isThenable(out)) await out;
    }
    return result;
  }

  /** Yoga's processResult: the onResultProcess hooks choose a processor (JSON here), which builds the response. */
  async function processResult(
    request: LeanRequest,
    result: Result,
    serverContext: Record<string, unknown>,
  ): Promise<AnyResponse> {
    let resultProcessor: ResultProcessor | undefined;
    const acceptableMediaTypes: string[] = [];
    let acceptedMediaType = '*/*';
    const setResult = (next: Result) => {
      result = next;
    };
    const setResultProcessor = (next: ResultProcessor, mediaType: string) => {
      resultProcessor = next;
      acceptedMediaType = mediaType;
    };
    for (const hook of yoga.onResultProcessHooks) {
      const out = hook({
        request,
        acceptableMediaTypes,
        result,
        setResult,
        resultProcessor,
        setResultProcessor,
        serverContext,
      });
      if (isThenable(out)) await out;
    }
    if (resultProcessor === undefined) {
      return new fetchAPI.Response(null, {
        status: 406,
        statusText: 'Not Acceptable',
        headers: { accept: acceptableMediaTypes.join('; charset=utf-8, ') },
      }) as AnyResponse;
    }
    return (await resultProcessor(result, fetchAPI, acceptedMediaType)) as AnyResponse;
  }

  /** Yoga's `handle`: parse the request, run the operation, process the result. */
  async function handle(request: LeanRequest, serverContext: Record<string, unknown>): Promise<AnyResponse> {
    try {
      const parsed = await parseRequest(request, serverContext);
      if ('response' in parsed) return parsed.response;
      // Batching is off (useLimitBatching refuses a list before this), as with Yoga.
      const result = await resultForParams(parsed.params, request, serverContext);
      return await processResult(request, result, serverContext);
    } catch (error) {
      return processResult(request, { errors: handleError(error, yoga.maskedErrorsOpts, yoga.logger) }, serverContext);
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let request: unknown = new LeanRequest(req, res);
    const serverContext: Record<string, unknown> = { req, res, waitUntil };
    let response: AnyResponse | undefined;
    let requestHandler: (request: LeanRequest, ctx: Record<string, unknown>) => Promise<AnyResponse> = handle;
    let ended = false;
    const setRequest = (next: unknown) => {
      request = next;
    };
    const setRequestHandler = (next: typeof requestHandler) => {
      requestHandler = next;
    };
    const endResponse = (next: AnyResponse | undefined) => {
      response = next;
      if (next !== undefined) ended = true;
    };
    const setResponse = (next: AnyResponse) => {
      response = next;
    };
    try {
      for (const hook of onRequestHooks) {
        const done = hook({
          request,
          setRequest,
          serverContext,
          fetchAPI,
          // The lean front takes exactly `/graphql`, no query string: what every hook reads of it.
          url: GRAPHQL_URL,
          requestHandler,
          setRequestHandler,
          endResponse,
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
          setResponse,
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
