import type { Plugin } from 'graphql-yoga';

function refuse(fetchAPI: { Response: typeof Response }, status: number, code: string, message: string): Response {
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
 * - POST bodies are `application/json` (or `application/graphql+json`); form and multipart
 *   bodies (which browsers send cross-site without a preflight) get 415;
 * - a GET's `variables` and `extensions` must be JSON objects: Yoga parses them with a bare
 *   `JSON.parse`, so a typo there would otherwise surface as a 500.
 */
export function useRequestGuard(graphqlEndpoint: string): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== graphqlEndpoint) return;
      if (request.method === 'POST') {
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
