import type { Plugin } from 'graphql-yoga';

/**
 * `Cache-Control: no-store` on every GraphQL answer, GET included. An answer is one
 * caller's view (it depends on the credential) of live upstream state, read through loaders
 * that last one request; no browser or proxy cache may keep or replay it. Clients cache in
 * their normalised store (Apollo, urql, Relay) instead. GET is served for persisted
 * operations and CSRF-safe reads, not for HTTP caching. The GraphiQL page (HTML) is left as
 * it is.
 */
export function useNoStore(endpoint: string): Plugin {
  return {
    onResponse({ request, response }) {
      if (response.headers.has('cache-control')) return;
      if ((response.headers.get('content-type') ?? '').startsWith('text/html')) return;
      if (new URL(request.url).pathname !== endpoint) return;
      response.headers.set('cache-control', 'no-store');
    },
  };
}
