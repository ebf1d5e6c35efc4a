import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from './errors.js';
import type { CircuitStateName } from './upstreams/http.js';
import type { UpstreamCallEvent } from './upstreams/instrumentation.js';
import type { RedisCommandEvent } from './stores/redis.js';

/**
 * The gateway's Prometheus metrics, on a registry of its own (never prom-client's global
 * one, so two gateways in one process, as in the tests, do not share counters).
 *
 * Every label has a small, fixed set of values: upstream and route names come from our
 * code (`users.get`, never a URL with an id in it), status is an HTTP status class member,
 * error codes are the ErrorCode union, and operation names pass through
 * `operationLabel`, which admits the first OPERATION_NAME_LIMIT distinct names and folds
 * the rest into `other`.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** UpstreamHttp's onCall hook: one observation per attempt. */
  upstreamCall(event: UpstreamCallEvent): void;
  /** A login to the NPM appliance for a new access token. */
  npmLogin(outcome: 'success' | 'failure'): void;
  /** Errors of one GraphQL response, by `extensions.code`. */
  graphqlErrors(codes: readonly ErrorCode[], operationType: string): void;
  /** Where circuit-breaker state is read from, at scrape time. */
  watchCircuits(read: () => Record<string, CircuitStateName>): void;
  /** Where the number of open `azureStatus` subscriptions is read from, at scrape time. */
  watchSubscribers(read: () => number): void;
  /** A bounded label value for a client-chosen operation name. */
  operationLabel(name: string | null | undefined): string;
  /** One GraphQL operation's execution (or subscription set-up), by operation name and type. */
  operationDone(operationName: string, operationType: string, seconds: number): void;
  /** One HTTP request to the GraphQL endpoint whose document parsed, until its response. */
  httpDone(operationName: string, operationType: string, method: string, statusCode: number, seconds: number): void;
  /** One Redis command (REDIS_URL set): its latency and whether it failed. */
  redisCommand(event: RedisCommandEvent): void;
  /** Where "does this replica hold the status poller's lease" is read from, at scrape time. */
  watchPollerLease(read: () => boolean): void;
}

/** Distinct operation names admitted as label values; an app has dozens, an attacker millions. */
export const OPERATION_NAME_LIMIT = 100;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

const CIRCUIT_STATES: readonly CircuitStateName[] = ['closed', 'half_open', 'open', 'isolated'];

/** Upstream calls: a few ms on a LAN up to the 10 s default timeout. */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event-loop lag, GC); on for a real server. */
  processMetrics?: boolean;
}

/**
 * One histogram child per label set, looked up by a string made of the values: prom-client
 * hashes a labels object (sorting its keys) on every observe, several times per request.
 * Callers pass the labels in the histogram's own order, and only bounded values.
 */
function seriesOf<L extends string>(histogram: Histogram<L>): (labels: Record<L, string>) => Histogram.Internal<L> {
  const children = new Map<string, Histogram.Internal<L>>();
  return (labels) => {
    let key = '';
    for (const name in labels) key += `${labels[name]} `;
    let child = children.get(key);
    if (child === undefined) {
      child = histogram.labels(labels);
      children.set(key, child);
    }
    return child;
  };
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const upstreamDuration = new Histogram({
    name: 'gateway_upstream_request_duration_seconds',
    help: 'Upstream HTTP calls, one observation per attempt, by upstream, route name, method, status and outcome',
    labelNames: ['upstream', 'route', 'method', 'status', 'outcome'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [registry],
  });
  // The names and labels @graphql-yoga/plugin-prometheus gave them (dashboards keep working).
  const operationDuration = new Histogram({
    name: 'graphql_envelop_request_duration',
    help: 'Duration of whole GraphQL operations (execute, or subscribe for subscriptions), seconds',
    labelNames: ['operationName', 'operationType'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'graphql_yoga_http_duration',
    help: 'HTTP requests to the GraphQL endpoint, from arrival to response headers, seconds',
    labelNames: ['operationName', 'operationType', 'method', 'statusCode'] as const,
    registers: [registry],
  });
  const upstreamRetries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Upstream attempts that were retries of a failed attempt',
    labelNames: ['upstream', 'route'] as const,
    registers: [registry],
  });
  const tokenRefreshes = new Counter({
    name: 'gateway_npm_token_refreshes_total',
    help: 'Logins to the NPM appliance for a new access token, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'gateway_graphql_errors_total',
    help: 'Errors in GraphQL responses, by extensions.code and operation type',
    labelNames: ['code', 'operation_type'] as const,
    registers: [registry],
  });
  let readCircuits: (() => Record<string, CircuitStateName>) | undefined;
  new Gauge({
    name: 'gateway_upstream_circuit_state',
    help: 'Circuit breaker state per upstream: 1 for the current state, 0 for the others',
    labelNames: ['upstream', 'state'] as const,
    registers: [registry],
    collect() {
      if (readCircuits === undefined) return;
      this.reset();
      for (const [upstream, current] of Object.entries(readCircuits())) {
        for (const state of CIRCUIT_STATES) this.set({ upstream, state }, state === current ? 1 : 0);
      }
    },
  });

  let readSubscribers: (() => number) | undefined;
  new Gauge({
    name: 'gateway_azure_status_subscribers',
    help: 'Open azureStatus subscriptions (all share one NPM GET /status poller)',
    registers: [registry],
    collect() {
      if (readSubscribers !== undefined) this.set(readSubscribers());
    },
  });

  const redisDuration = new Histogram({
    name: 'gateway_redis_command_duration_seconds',
    help: 'Redis commands (REDIS_URL set), by command name and outcome (ok or error)',
    labelNames: ['command', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const redisErrors = new Counter({
    name: 'gateway_redis_command_errors_total',
    help: 'Redis commands that failed (unreachable, timed out, refused), by command name',
    labelNames: ['command'] as const,
    registers: [registry],
  });
  let readLease: (() => boolean) | undefined;
  new Gauge({
    name: 'gateway_azure_status_poller_lease',
    help: "1 while this replica holds the fleet's NPM GET /status poller lease (in Redis), else 0; without Redis, 1 while this process polls",
    registers: [registry],
    collect() {
      if (readLease !== undefined) this.set(readLease() ? 1 : 0);
    },
  });

  const seenNames = new Set<string>();
  // Bounded like the series themselves: routes, methods, statuses and outcomes are closed sets;
  // operation names pass through operationLabel.
  const upstreamSeries = seriesOf(upstreamDuration);
  const operationSeries = seriesOf(operationDuration);
  const httpSeries = seriesOf(httpDuration);
  return {
    operationDone(operationName, operationType, seconds) {
      operationSeries({ operationName, operationType }).observe(seconds);
    },
    httpDone(operationName, operationType, method, statusCode, seconds) {
      httpSeries({ operationName, operationType, method, statusCode: String(statusCode) }).observe(seconds);
    },
    redisCommand({ command, durationMs, ok }) {
      redisDuration.observe({ command, outcome: ok ? 'ok' : 'error' }, durationMs / 1000);
      if (!ok) redisErrors.inc({ command });
    },
    watchPollerLease(read) {
      readLease = read;
    },
    registry,
    upstreamCall(event) {
      const status = event.status === undefined ? 'none' : String(event.status);
      // 'ok', the failure kind, or why the gateway refused the call itself.
      const outcome = event.local ?? event.failure ?? 'ok';
      upstreamSeries({ upstream: event.upstream, route: event.route, method: event.method, status, outcome }).observe(
        event.durationMs / 1000,
      );
      if (event.attempt > 0) upstreamRetries.inc({ upstream: event.upstream, route: event.route });
    },
    npmLogin(outcome) {
      tokenRefreshes.inc({ outcome });
    },
    graphqlErrors(codes, operationType) {
      // Bounded by type and at run time: codeOf only ever gives an ErrorCode.
      for (const code of codes) errors.inc({ code, operation_type: operationType });
    },
    watchCircuits(read) {
      readCircuits = read;
    },
    watchSubscribers(read) {
      readSubscribers = read;
    },
    operationLabel(name) {
      if (name === undefined || name === null || name === '') return 'anonymous';
      if (seenNames.has(name)) return name;
      if (seenNames.size >= OPERATION_NAME_LIMIT || !OPERATION_NAME.test(name)) return 'other';
      seenNames.add(name);
      return name;
    },
  };
}
