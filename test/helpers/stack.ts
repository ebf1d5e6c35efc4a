import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import type { AzureStatusFeed } from '../../src/live/azure-status-feed.js';
import { createLogger } from '../../src/logger.js';
import type { GatewayMetrics } from '../../src/metrics.js';
import { httpFront } from '../../src/front/lean-front.js';
import { composeGateway, startGateway } from '../../src/server.js';
import type { RunningGateway } from '../../src/server.js';
import type { Tracing } from '../../src/tracing.js';
import type { Upstreams } from '../../src/upstreams/index.js';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import type { AxisSimulator, AxisSimulatorOptions } from '../../simulators/axis-sim.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import type { NpmSimulator, NpmSimulatorOptions } from '../../simulators/npm-sim.js';

export const NPM_USER = 'admin';
export const NPM_PASSWORD = 'npm-password-under-test-7f3a';
export const AXIS_RW_TOKEN = 'axis-rw-token-under-test-91c2';
export const AXIS_RO_TOKEN = 'axis-ro-token-under-test-5d0e';
/** Client API keys the stack's gateway accepts (GATEWAY_API_KEYS); gql() sends ADMIN_KEY unless told otherwise. */
export const ADMIN_KEY = 'admin-key-under-test-0123456789abcdef';
export const VIEWER_KEY = 'viewer-key-under-test-0123456789abcdef';

/**
 * The HTTP front the suite runs against: `HTTP_FRONT` of the test run (`npm test` runs the
 * integration suite once per front), else the gateway's default. Every helper that starts a
 * gateway (here, child-gateway.ts, fleet.ts) passes it on.
 */
export function frontEnv(): { HTTP_FRONT?: string } {
  const front = process.env['HTTP_FRONT'];
  return front === undefined || front === '' ? {} : { HTTP_FRONT: front };
}

export interface GraphQLResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }>;
  };
}

export interface Stack {
  npmSim: NpmSimulator;
  axisSim: AxisSimulator;
  upstreams: Upstreams;
  /** The registry `/metrics` serves (undefined with METRICS_ENABLED=false). */
  metrics: GatewayMetrics | undefined;
  /** The gateway's azureStatus subscription poller (its subscriber count, for tests that wait on it). */
  azureStatusFeed: AzureStatusFeed;
  url: string;
  /** Every log line the gateway wrote, at trace level. */
  logs: string[];
  /** The HTTP front this run uses (HTTP_FRONT), and how many requests each path has served. */
  front: 'lean' | 'yoga';
  served: { readonly lean: number; readonly yoga: number };
  /** POSTs an operation with `Authorization: Bearer ADMIN_KEY`; `headers` may override it (or delete it with ''). */
  gql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
  /** POSTs any JSON body (e.g. a persisted operation's `documentId`), with gql()'s default headers. */
  post(body: unknown, headers?: Record<string, string>): Promise<GraphQLResponse>;
  /** GET /graphql with these URL parameters (objects are sent as JSON), with gql()'s default headers. */
  get(params: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
  /** Upstream calls per route since the last resetCounts(), both simulators merged as `npm:route`/`axis:route`. */
  calls(): Record<string, number>;
  resetCounts(): void;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string | undefined>;
  npm?: NpmSimulatorOptions;
  axis?: AxisSimulatorOptions;
  /** OpenTelemetry tracing (a test's in-memory exporter); off by default, as in production. */
  tracing?: Tracing;
  /** The gateway logger's level; `trace` by default. */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

/**
 * The real gateway (HTTP server on a loopback port) against the real simulators (two more
 * loopback servers). Nothing is mocked: every test request crosses three sockets.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const npmSim = createNpmSimulator({ username: NPM_USER, password: NPM_PASSWORD, syncDurationMs: 50, ...options.npm });
  const axisSim = createAxisSimulator({
    tokens: { [AXIS_RW_TOKEN]: 'rw', [AXIS_RO_TOKEN]: 'ro' },
    ...options.axis,
  });
  const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
  const logs: string[] = [];
  const config = loadConfig({
    NODE_ENV: 'test',
    NPM_BASE_URL: npmUrl,
    NPM_USERNAME: NPM_USER,
    NPM_PASSWORD: NPM_PASSWORD,
    AXIS_BASE_URL: axisUrl,
    AXIS_API_TOKEN: AXIS_RW_TOKEN,
    UPSTREAM_TIMEOUT_MS: '1500',
    LOG_LEVEL: 'trace',
    GATEWAY_API_KEYS: `test-admin=admin:${ADMIN_KEY},test-viewer=viewer:${VIEWER_KEY}`,
    RATE_LIMIT_RPS: '0',
    ...frontEnv(),
    ...options.env,
  });
  const logger = createLogger(options.logLevel ?? 'trace', { write: (line: string) => void logs.push(line) });
  const { gateway, upstreams, metrics, azureStatusFeed, redis } = composeGateway(config, logger, {
    ...(options.tracing ? { tracing: options.tracing } : {}),
  });
  const listener = httpFront(gateway, config.http.front);
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function send(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<GraphQLResponse> {
    const sent: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${ADMIN_KEY}`,
      ...headers,
    };
    for (const [name, value] of Object.entries(sent)) if (value === '') delete sent[name];
    const res = await request(`${url}${path}`, { method, headers: sent, body });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as GraphQLResponse['body'] };
  }

  return {
    npmSim,
    axisSim,
    upstreams,
    metrics,
    azureStatusFeed,
    url,
    logs,
    front: config.http.front,
    served: listener.served,
    gql(query, variables, headers = {}) {
      return send('POST', '/graphql', headers, JSON.stringify({ query, variables }));
    },
    post(body, headers = {}) {
      return send('POST', '/graphql', headers, JSON.stringify(body));
    },
    get(params, headers = {}) {
      const search = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) {
        if (value !== undefined) search.set(name, typeof value === 'string' ? value : JSON.stringify(value));
      }
      return send('GET', `/graphql?${search.toString()}`, { 'content-type': '', ...headers });
    },
    calls() {
      const merged: Record<string, number> = {};
      for (const [name, sim] of [
        ['npm', npmSim],
        ['axis', axisSim],
      ] as const) {
        for (const [route, n] of Object.entries(sim.counts())) if (n > 0) merged[`${name}:${route}`] = n;
      }
      return merged;
    },
    resetCounts() {
      npmSim.resetCounts();
      axisSim.resetCounts();
    },
    async close() {
      azureStatusFeed.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Simulators first: that ends hung upstream calls, so the pools can close at once.
      await Promise.all([npmSim.stop(), axisSim.stop()]);
      await upstreams.close().catch(() => undefined);
      await redis?.close();
    },
  };
}

/** The error codes of a response, in order. */
export function codes(res: GraphQLResponse): unknown[] {
  return (res.body.errors ?? []).map((e) => e.extensions?.['code']);
}

export interface ProductionGateway {
  npmSim: NpmSimulator;
  axisSim: AxisSimulator;
  gateway: RunningGateway;
  /** The gateway's log lines (level info). */
  logs: string[];
  /** Stops both simulators; close the gateway yourself, with the grace period under test. */
  stopSimulators(): Promise<void>;
}

/**
 * The production server as main.ts runs it (startGateway, NODE_ENV=production, its own port
 * and graceful close) against the two simulators: for tests of start-up, readiness, shutdown.
 */
export async function startProductionGateway(env: Record<string, string> = {}): Promise<ProductionGateway> {
  const npmSim = createNpmSimulator({ username: NPM_USER, password: NPM_PASSWORD });
  const axisSim = createAxisSimulator({ tokens: { [AXIS_RW_TOKEN]: 'rw' } });
  const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
  const stopSimulators = async () => {
    await Promise.all([npmSim.stop(), axisSim.stop()]);
  };
  const logs: string[] = [];
  try {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      NPM_BASE_URL: npmUrl,
      NPM_USERNAME: NPM_USER,
      NPM_PASSWORD: NPM_PASSWORD,
      AXIS_BASE_URL: axisUrl,
      AXIS_API_TOKEN: AXIS_RW_TOKEN,
      GATEWAY_API_KEYS: `ops=admin:${ADMIN_KEY}`,
      UPSTREAM_TIMEOUT_MS: '1000',
      ...frontEnv(),
      ...env,
    });
    const gateway = await startGateway(config, createLogger('info', { write: (l: string) => void logs.push(l) }));
    return { npmSim, axisSim, gateway, logs, stopSimulators };
  } catch (err) {
    await stopSimulators();
    throw err;
  }
}

/**
 * A fresh stack for one test: starts it, runs `body` against it and closes it afterwards,
 * whether `body` passed or threw. Suites sharing one stack keep beforeAll/afterAll.
 */
export async function withStack<T>(options: StackOptions, body: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(options);
  try {
    return await body(stack);
  } finally {
    await stack.close();
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): Record<string, unknown>;
}

/** One HTTP request exactly as given (no default headers, any body), for tests of the HTTP layer itself. */
export async function raw(url: string, init: Parameters<typeof request>[1]): Promise<RawResponse> {
  const res = await request(url, init);
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}
