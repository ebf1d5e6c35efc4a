import type { Plugin } from 'graphql-yoga';

/**
 * `Cache-Control: no-store` on every GraphQL answer, GET included. An answer is one
 * caller's view (it depends on the credential) of live upstream state, read through loaders
 * that last one request; no browser or proxy cache may keep or replay it. Clients cache in
 * their normalised store (Apollo, urql, Relay) instead. GET is served for persisted
 * operations and CSRF-safe reads, not for HTTP caching. The GraphiQL page (HTML) is left as
 * it is.
 */
/** The path of an absolute URL (`http://host/graphql?x` gives `/graphql`), without building a URL object. */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  let end = url.length;
  for (const mark of ['?', '#']) {
    const at = url.indexOf(mark, start);
    if (at !== -1 && at < end) end = at;
  }
  return url.slice(start, end);
}

export function useNoStore(endpoint: string): Plugin {
  return {
    onResponse({ request, response }) {
      if (response.headers.has('cache-control')) return;
      if ((response.headers.get('content-type') ?? '').startsWith('text/html')) return;
      if (pathOf(request.url) !== endpoint) return;
      response.headers.set('cache-control', 'no-store');
    },
  };
}
