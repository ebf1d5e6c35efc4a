import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../errors.js';

function refuse(fetchAPI: { Response: typeof Response }, status: number, code: ErrorCode, message: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

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
 * The GraphQL-over-HTTP shapes we serve, refused early and with a code otherwise:
 * - POST bodies declare their length, at most MAX_REQUEST_BODY_BYTES;
 * - POST bodies are `application/json` (or `application/graphql+json`); form and multipart
 *   bodies (which browsers send cross-site without a preflight) get 415;
 * - a GET's `variables` and `extensions` must be JSON objects: Yoga parses them with a bare
 *   `JSON.parse`, so a typo there would otherwise surface as a 500.
 */
export function useRequestGuard(graphqlEndpoint: string, maxBodyBytes: number): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== graphqlEndpoint) return;
      if (request.method === 'POST') {
        // The body limit is checked here, on Content-Length, rather than by Yoga's
        // maxRequestBodySize, which wraps every body in a stream pipeline with its own
        // AbortController (a quarter of the CPU of a small query). A body of unknown length
        // (chunked) is refused: every GraphQL client sends Content-Length.
        const length = request.headers.get('content-length');
        if (length === null || !/^\d+$/.test(length)) {
          endResponse(refuse(fetchAPI, 411, 'BAD_REQUEST', 'Send the body with a Content-Length header.'));
          return;
        }
        if (Number(length) > maxBodyBytes) {
          endResponse(refuse(fetchAPI, 413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large'));
          return;
        }
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json' && type !== 'application/graphql+json') {
          endResponse(
            refuse(
              fetchAPI,
              415,
              'UNSUPPORTED_MEDIA_TYPE',
              'Send the operation as JSON: Content-Type: application/json.',
            ),
          );
        }
        return;
      }
      if (request.method === 'GET') {
        for (const name of ['variables', 'extensions']) {
          if (!isJsonObjectParam(url.searchParams.get(name))) {
            endResponse(refuse(fetchAPI, 400, 'BAD_REQUEST', `The "${name}" parameter must be a JSON object.`));
            return;
          }
        }
      }
    },
  };
}
