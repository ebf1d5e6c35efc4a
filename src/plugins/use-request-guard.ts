import { createGraphQLError } from 'graphql-yoga';
import type { FetchAPI, Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../errors.js';
import type { ClientAddressOf } from '../http/client-address.js';
import type { RefusalLog } from '../http/refusal-log.js';

/** Whether a `variables`/`extensions` parameter of a GET is absent or a JSON object. */
function isJsonObjectParam(value: string | null): boolean {
  if (value === null || value === '') return true;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed === null || (typeof parsed === 'object' && !Array.isArray(parsed));
  } catch {
    return false;
  }
}

/**
 * Whether Yoga would serve this URL as GraphQL: it matches any URL *ending* in the endpoint
 * (`/x/graphql`, `/graphql/`, even `/?a=/graphql`), see its useUnhandledRoute.
 */
function yogaWouldServe(requestUrl: string, pathname: string, endpoint: string): boolean {
  return (
    requestUrl.endsWith(endpoint) ||
    requestUrl.endsWith(`${endpoint}/`) ||
    pathname === endpoint ||
    pathname === `${endpoint}/`
  );
}

/**
 * A refusal. The connection stays open: closing it with body bytes unread makes the kernel
 * answer them with a reset, and the client would likely lose the answer. Node discards the
 * rest of an unread body as it arrives (nothing is buffered), and HTTP_REQUEST_TIMEOUT_MS
 * bounds how long a socket may keep sending.
 */
function refusal(status: number, code: ErrorCode, message: string) {
  return createGraphQLError(message, { extensions: { code, http: { status } } });
}

function tooLarge(limit: number) {
  return refusal(413, 'REQUEST_ENTITY_TOO_LARGE', `Request body too large: the limit is ${limit} bytes.`);
}

/** A copy of the request whose body stream errors with 413 as soon as more than `limit` bytes have arrived. */
function countingBody(request: Request, limit: number, fetchAPI: FetchAPI): Request {
  let read = 0;
  // As Yoga's own limiter does: a native body stream needs the native TransformStream
  // (graphql-yoga#4583).
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  const counted = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        if (read > limit) controller.error(tooLarge(limit));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: counted,
    // @ts-expect-error Node's RequestInit needs it for a stream body; the DOM types lack it.
    duplex: 'half',
  });
}

export interface RequestGuardOptions {
  graphqlEndpoint: string;
  maxBodyBytes: number;
  clientAddressOf: ClientAddressOf;
  refusals: RefusalLog;
}

/**
 * The GraphQL-over-HTTP shapes we serve, refused early and with a code otherwise:
 * - GraphQL is served on the exact endpoint only: every other path Yoga would serve it on
 *   (`/graphql/`, `/x/graphql`) gets 404 before its body is read;
 * - POST bodies are at most MAX_REQUEST_BODY_BYTES: a declared Content-Length is checked
 *   before the body is read, a chunked body is counted while it streams and cut (413) at
 *   the limit;
 * - POST bodies are `application/json` (or `application/graphql+json`); form and multipart
 *   bodies (which browsers send cross-site without a preflight) get 415;
 * - a GET's `variables` and `extensions` must be JSON objects: Yoga parses them with a bare
 *   `JSON.parse`, so a typo there would otherwise surface as a 500.
 * The body checks run in onRequestParse, after useClientAuth: a caller without a credential
 * hears about the credential first. Nothing here reads a body.
 */
export function useRequestGuard({
  graphqlEndpoint,
  maxBodyBytes,
  clientAddressOf,
  refusals,
}: RequestGuardOptions): Plugin {
  return {
    onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      if (url.pathname === graphqlEndpoint || !yogaWouldServe(request.url, url.pathname, graphqlEndpoint)) return;
      refusals.refused('not_found', clientAddressOf(serverContext, request), { path: url.pathname.slice(0, 100) });
      endResponse(
        new fetchAPI.Response(
          JSON.stringify({
            errors: [
              {
                message: `Not found: GraphQL is served on ${graphqlEndpoint}.`,
                extensions: { code: 'NOT_FOUND' satisfies ErrorCode },
              },
            ],
          }),
          { status: 404, headers: { 'content-type': 'application/json; charset=utf-8' } },
        ),
      );
    },
    onRequestParse({ request, url, serverContext, requestParser, setRequestParser, fetchAPI }) {
      const client = () => clientAddressOf(serverContext, request);
      if (request.method === 'POST') {
        const length = request.headers.get('content-length');
        if (length !== null) {
          if (!/^\d+$/.test(length)) {
            refusals.refused('bad_content_length', client());
            throw refusal(400, 'BAD_REQUEST', 'The Content-Length header is invalid.');
          }
          if (Number(length) > maxBodyBytes) {
            refusals.refused('body_too_large', client(), { contentLength: Number(length) });
            throw tooLarge(maxBodyBytes);
          }
        }
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json' && type !== 'application/graphql+json') {
          refusals.refused('unsupported_media_type', client());
          throw refusal(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the operation as JSON: Content-Type: application/json.');
        }
        // A declared length is enforced by Node's parser (a body cannot run past it); a body of
        // unknown length (chunked) is counted as it arrives. Only that case pays for the extra
        // stream: a per-request pipeline on every body costs a quarter of a small query's CPU.
        if (length === null && requestParser !== undefined && request.body !== null) {
          const parse = requestParser;
          setRequestParser((req) => parse(countingBody(req, maxBodyBytes, fetchAPI)));
        }
        return;
      }
      if (request.method === 'GET') {
        for (const name of ['variables', 'extensions']) {
          if (!isJsonObjectParam(url.searchParams.get(name))) {
            throw refusal(400, 'BAD_REQUEST', `The "${name}" parameter must be a JSON object.`);
          }
        }
      }
    },
  };
}
