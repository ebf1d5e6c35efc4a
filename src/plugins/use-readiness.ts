import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { UpstreamError } from '../upstreams/upstream-error.js';
import type { AxisClient } from '../upstreams/axis/client.js';
import type { NpmClient } from '../upstreams/npm/client.js';

export interface ReadinessOptions {
  npm: NpmClient;
  axis: AxisClient;
  logger: Logger;
  /** True once shutdown has begun: load balancers must stop sending new requests. */
  draining: () => boolean;
  /**
   * REDIS_URL set: Redis's state, named in the body. It never makes the replica unready: with
   * Redis down reads are still served, and every replica unready would leave the load
   * balancer with no backend at all.
   */
  redis?: () => 'ready' | 'down';
}

/** A probe result is reused this long, so frequent /ready polls cost the upstreams little. */
const CACHE_MS = 2_000;
/** A probe that takes longer than this counts as the upstream being down. */
const PROBE_TIMEOUT_MS = 3_000;

/** An upstream counts as down when it cannot be reached or answers 5xx; a 4xx still proves it is there. */
function isDown(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return true;
  return (
    err.failure === 'unavailable' || err.failure === 'timeout' || (err.failure === 'http' && (err.status ?? 0) >= 500)
  );
}

/**
 * `GET /ready`: 200 when both upstreams answer (one cheap read each, cached for a couple
 * of seconds and shared by concurrent polls), 503 while one is unreachable or the circuit
 * is open, and 503 while draining. The body is generic on purpose; the log says which.
 * `GET /health` stays liveness only (the process serves HTTP).
 */
export function useReadiness(options: ReadinessOptions): Plugin {
  let last: { at: number; ready: Promise<boolean> } | undefined;

  async function probe(): Promise<boolean> {
    const call = { deadline: Date.now() + PROBE_TIMEOUT_MS, requestId: 'readiness-probe' };
    const results = await Promise.allSettled([
      options.npm.getStatus(call),
      options.axis.listUsers({ pageNumber: 1, pageSize: 1 }, call),
    ]);
    const down = (['npm', 'axis'] as const).filter((_, i) => {
      const r = results[i]!;
      return r.status === 'rejected' && isDown(r.reason);
    });
    if (down.length > 0) options.logger.warn({ down }, 'not ready: upstream unreachable');
    return down.length === 0;
  }

  return {
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname !== '/ready') return;
      return (async () => {
        let ready = false;
        if (!options.draining()) {
          const now = Date.now();
          if (last === undefined || now - last.at > CACHE_MS) last = { at: now, ready: probe() };
          ready = await last.ready;
        }
        endResponse(
          new fetchAPI.Response(
            JSON.stringify({
              status: ready ? 'ready' : 'unavailable',
              ...(options.redis ? { redis: options.redis() } : {}),
            }),
            {
              status: ready ? 200 : 503,
              headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
            },
          ),
        );
      })();
    },
  };
}
