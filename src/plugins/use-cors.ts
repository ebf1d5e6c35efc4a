import type { Plugin, YogaServerOptions } from 'graphql-yoga';

type CorsOption = NonNullable<YogaServerOptions<Record<string, unknown>, Record<string, unknown>>['cors']>;

/** Request headers a browser may send cross-origin: ours, and W3C trace context for frontend tracing. */
const CORS_ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'x-request-id',
  'idempotency-key',
  'x-graphql-yoga-csrf',
  'traceparent',
  'tracestate',
] as const;

/**
 * Yoga's `cors` option, as a per-request factory: only an origin on CORS_ORIGINS gets CORS
 * headers, and only its own. (Given the list itself, Yoga sends the one configured origin
 * to every caller, and `null` to unlisted ones when there are several: a sandboxed iframe's
 * origin is `null`.) A preflight from any other origin, or any preflight with CORS off, gets
 * Yoga's plain 204 without CORS headers, which the browser reads as a refusal: never a
 * CSRF or authentication error, since a preflight carries no credential.
 */
export function corsFor(origins: readonly string[], maxAgeS: number): CorsOption {
  const allowed = new Set(origins);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return {
      origin: [origin],
      credentials: false,
      allowedHeaders: [...CORS_ALLOWED_HEADERS],
      exposedHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed'],
      methods: ['GET', 'POST'],
      ...(maxAgeS > 0 ? { maxAge: maxAgeS } : {}),
    };
  };
}

/**
 * `Vary: Origin` on every response: whether CORS headers are present depends on the
 * caller's Origin, so a shared cache must not hand one origin's answer to another.
 */
export function useVaryOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = response.headers.get('vary');
      if (vary === null) response.headers.set('vary', 'Origin');
      else if (!/(^|,)\s*origin\s*(,|$)/i.test(vary)) response.headers.set('vary', `${vary}, Origin`);
    },
  };
}
