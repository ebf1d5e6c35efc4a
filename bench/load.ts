/**
 * One load run with autocannon's programmatic API. Latencies are taken from autocannon's
 * per-response event (float milliseconds) rather than its histogram, which stores whole
 * milliseconds: a "+2 ms" target needs better than 1 ms resolution.
 */
import autocannon from 'autocannon';
import { Samples, percentileOfSorted } from './stats.js';

/** A GraphQL answer with errors starts with `{"errors":` (graphql-js puts them first). */
export const hasData = (body: string): boolean => body.startsWith('{"data":');

export interface LoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  /** Run for this long (requests in flight at the end are cut off)... */
  durationSec?: number;
  /** ...or until exactly this many requests are answered: nothing is cut off. */
  amount?: number;
  /**
   * Send a fresh `Idempotency-Key` with every request (autocannon's `[<id>]` placeholder,
   * replaced by a new hyperid per request), so each one is a new claim, never a replay.
   */
  idempotencyKey?: boolean;
  /** One body per connection, in turn, instead of `body` for all (e.g. each connection edits its own user). */
  bodies?: readonly string[];
  /** Called with each response body; a false answer counts as a mismatch. */
  verifyBody?: (body: string) => boolean;
}

export interface LoadResult {
  /** Responses received (any status). */
  requests: number;
  /** Requests written to the server, including any cut off when a timed run ends. */
  sent: number;
  /** From the start to the last response. */
  durationSec: number;
  rps: number;
  /** Rate over the second half of a timed run: a warm-up's estimate of the warm rate. */
  tailRps: number;
  /** Latency of 2xx responses, ms. */
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  /** 2xx answers whose body failed `verifyBody` (e.g. GraphQL `errors`). */
  mismatches: number;
  /** One failing body, for the report. */
  sampleMismatch: string | undefined;
}

let current: autocannon.Instance | undefined;

/** Stops a run in progress (SIGINT). */
export function stopLoad(): void {
  current?.stop();
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new Samples();
  let sampleMismatch: string | undefined;
  // autocannon reports its result at its next sampling tick, after the last response; the
  // window is timed here instead, from the start to the last response.
  const started = performance.now();
  let lastResponse = started;
  const halfway = started + ((options.durationSec ?? 0) * 1000) / 2;
  let afterHalfway = 0;
  let assigned = 0;
  const bodies = options.bodies;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        body: options.body,
        headers: options.idempotencyKey ? { ...options.headers, 'idempotency-key': 'bench-[<id>]' } : options.headers,
        ...(options.idempotencyKey ? { idReplacement: true } : {}),
        ...(bodies === undefined || bodies.length === 0
          ? {}
          : { setupClient: (client: autocannon.Client) => client.setBody(bodies[assigned++ % bodies.length]) }),
        connections: options.connections,
        pipelining: 1,
        ...(options.amount === undefined ? { duration: options.durationSec ?? 10 } : { amount: options.amount }),
        sampleInt: 100,
        timeout: 30,
        ...(options.verifyBody === undefined
          ? {}
          : {
              verifyBody: (body: unknown) => {
                const ok = options.verifyBody!(String(body));
                if (!ok) sampleMismatch ??= String(body).slice(0, 500);
                return ok;
              },
            }),
      },
      (err, result) => {
        current = undefined;
        if (err !== null && err !== undefined) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        const sorted = latencies.sorted();
        const requests = result.requests.total;
        const durationSec = (lastResponse - started) / 1000;
        resolve({
          requests,
          sent: result.requests.sent,
          durationSec,
          rps: durationSec > 0 ? requests / durationSec : 0,
          tailRps: lastResponse > halfway ? (afterHalfway * 1000) / (lastResponse - halfway) : 0,
          p50: percentileOfSorted(sorted, 50),
          p99: percentileOfSorted(sorted, 99),
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          mismatches: result.mismatches,
          sampleMismatch,
        });
      },
    );
    current = instance;
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastResponse = performance.now();
      if (lastResponse >= halfway) afterHalfway += 1;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}
