import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { httpFront } from './front/lean-front.js';
import { createGateway } from './gateway.js';
import type { Gateway, GatewayDeps, GatewayStores } from './gateway.js';
import { GRAPHIQL_HEADERS } from './graphiql.js';
import { createAzureStatusFeed } from './live/azure-status-feed.js';
import type { AzureStatusFeed } from './live/azure-status-feed.js';
import { createMetrics } from './metrics.js';
import type { GatewayMetrics } from './metrics.js';
import { MemoryIdempotencyStore } from './stores/idempotency.js';
import { MemoryRateLimitStore } from './stores/rate-limit.js';
import { MemoryEntityLocks } from './stores/entity-lock.js';
import { RedisEntityLocks } from './stores/redis-entity-lock.js';
import { startTracing } from './tracing.js';
import type { Tracing } from './tracing.js';
import { createFleetStatusFeed } from './live/fleet-status-feed.js';
import { createRedisConnection } from './stores/redis.js';
import type { RedisConnection } from './stores/redis.js';
import { RedisIdempotencyStore } from './stores/redis-idempotency.js';
import { RedisRateLimitStore } from './stores/rate-limit.js';
import { createUpstreams } from './upstreams/index.js';
import type { Upstreams } from './upstreams/index.js';

export interface RunningGateway {
  server: Server;
  /** e.g. http://127.0.0.1:4000 */
  url: string;
  /**
   * Graceful stop: /ready turns 503, open subscriptions are completed, the listener stops
   * accepting, in-flight requests get up to `graceMs` (SHUTDOWN_TIMEOUT_MS) to finish, then
   * remaining connections are cut and the upstream pools closed.
   */
  close(graceMs?: number): Promise<void>;
}

export interface GatewayParts {
  gateway: Gateway;
  upstreams: Upstreams;
  metrics: GatewayMetrics | undefined;
  azureStatusFeed: AzureStatusFeed;
  /** The Redis connections (REDIS_URL set), closed after the upstreams at shutdown. */
  redis: RedisConnection | undefined;
}

/** With REDIS_URL, the stores every replica shares; without, undefined (createStores' in-memory ones). */
function sharedStores(
  config: GatewayConfig,
  logger: Logger,
  redis: RedisConnection | undefined,
): GatewayStores | undefined {
  if (redis === undefined) return undefined;
  return {
    rateLimit:
      config.rateLimit.rps > 0
        ? new RedisRateLimitStore({ ...config.rateLimit, client: redis.client, keyPrefix: redis.keyPrefix })
        : undefined,
    idempotency: new RedisIdempotencyStore({
      client: redis.client,
      keyPrefix: redis.keyPrefix,
      ttlMs: config.idempotencyTtlMs,
      runningTtlMs: config.resilience.requestTimeoutMs + 5_000,
      logger,
    }),
    // The same bounds as the in-memory locks; the lease is renewed while the write runs.
    entityLocks: new RedisEntityLocks({
      client: redis.client,
      keyPrefix: redis.keyPrefix,
      maxWaitMs: config.resilience.requestTimeoutMs,
      leaseMs: config.resilience.requestTimeoutMs + 5_000,
      logger,
    }),
  };
}

export interface ComposeOptions {
  /** What GraphiQL's Headers tab starts with; a placeholder bearer by default. */
  graphiqlHeaders?: Readonly<Record<string, string>>;
  /** True once shutdown has begun (/ready answers 503); never, by default. */
  draining?: () => boolean;
  /** OpenTelemetry tracing, from startTracing (or a test's in-memory exporter); off by default. */
  tracing?: Tracing;
  /** Node.js process metrics (CPU, memory, event-loop lag, GC) on /metrics; on for a real server. */
  processMetrics?: boolean;
}

/** The in-memory stores of one process (a fleet uses sharedStores instead). */
function createStores(config: GatewayConfig): GatewayStores {
  return {
    rateLimit: config.rateLimit.rps > 0 ? new MemoryRateLimitStore(config.rateLimit) : undefined,
    idempotency: new MemoryIdempotencyStore({
      ttlMs: config.idempotencyTtlMs,
      runningTtlMs: config.resilience.requestTimeoutMs + 5_000,
    }),
    // A writer waits at most one request timeout; a holder keeps its keys no longer than that
    // plus a margin (its own upstream calls end at its request deadline).
    entityLocks: new MemoryEntityLocks({
      maxWaitMs: config.resilience.requestTimeoutMs,
      leaseMs: config.resilience.requestTimeoutMs + 5_000,
    }),
  };
}

/**
 * The wiring root: every singleton is built here, once, and handed to createGateway: metrics
 * and tracing hooked into the upstream clients, the azureStatus subscription's poller (one per
 * gateway, polling NPM through the gateway's own client), the shared stores, and the gateway
 * over them.
 */
export function composeGateway(config: GatewayConfig, logger: Logger, options: ComposeOptions = {}): GatewayParts {
  const { tracing, processMetrics = false, draining = () => false, graphiqlHeaders = GRAPHIQL_HEADERS } = options;
  const metrics = config.metrics.enabled ? createMetrics({ processMetrics }) : undefined;
  const redis = config.redis
    ? createRedisConnection({
        ...config.redis,
        logger,
        ...(metrics ? { onCommand: metrics.redisCommand } : {}),
      })
    : undefined;
  const upstreams = createUpstreams(config, logger, {
    ...(metrics ? { onCall: metrics.upstreamCall, onNpmLogin: metrics.npmLogin } : {}),
    ...(redis ? { sharedNpmToken: { client: redis.client, keyPrefix: redis.keyPrefix } } : {}),
    ...(tracing ? { tracing } : {}),
  });
  metrics?.watchCircuits(upstreams.circuits);
  const poller = createAzureStatusFeed({
    getStatus: (call) => upstreams.npm.getStatus(call),
    pollMs: config.azureStatusPollMs,
    pollTimeoutMs: config.resilience.requestTimeoutMs,
    logger,
  });
  // Several replicas: one poller for the fleet, holding a lease in Redis (fleet-status-feed.ts).
  const fleetFeed = redis
    ? createFleetStatusFeed({ redis, poller, pollMs: config.azureStatusPollMs, logger })
    : undefined;
  const azureStatusFeed: AzureStatusFeed = fleetFeed ?? poller;
  metrics?.watchSubscribers(() => azureStatusFeed.subscribers);
  metrics?.watchPollerLease(() => (fleetFeed ? fleetFeed.holdsLease() : poller.subscribers > 0));
  if (config.auth.disabled) {
    logger.warn(
      "CLIENT AUTHENTICATION IS DISABLED: every caller can run every query and mutation with the gateway's upstream credentials. Set GATEWAY_API_KEYS or AUTH_JWT_SECRET/AUTH_JWKS_URL.",
    );
  }
  const deps: GatewayDeps = {
    config,
    logger,
    upstreams,
    stores: sharedStores(config, logger, redis) ?? createStores(config),
    draining,
    graphiqlHeaders,
    metrics,
    tracing,
    azureStatusFeed,
    ...(redis ? { redisState: () => redis.state() } : {}),
  };
  return { gateway: createGateway(deps), upstreams, metrics, azureStatusFeed, redis };
}

/**
 * The HTTP listener with the connection limits of HTTP_HEADERS_TIMEOUT_MS,
 * HTTP_REQUEST_TIMEOUT_MS and MAX_CONNECTIONS. Node's requestTimeout covers receiving the
 * request only (headers and body), so a slow-body socket is cut (408) while a long-lived
 * SSE response, whose request arrived long ago, is not. Node checks both timeouts on a
 * timer (connectionsCheckingInterval, 30 s by default): it runs at a quarter of the shorter
 * timeout, so a cut comes within about 1.25 times the configured time.
 */
function createHttpServer(config: GatewayConfig, handler: Parameters<typeof createServer>[1]): Server {
  const { headersTimeoutMs, requestTimeoutMs, maxConnections } = config.http;
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
    },
    handler,
  );
  // Past the cap Node closes new sockets at once: the process keeps file descriptors for
  // the upstream pools and for the connections it already serves.
  if (maxConnections > 0) server.maxConnections = maxConnections;
  return server;
}

/** How long a starting replica waits for Redis before it listens without it. */
const REDIS_START_WAIT_MS = 5_000;

/** Builds the singletons (composeGateway) and binds the gateway to a port. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  options: Pick<ComposeOptions, 'graphiqlHeaders'> = {},
): Promise<RunningGateway> {
  const tracing = config.tracing ? await startTracing(config.tracing) : undefined;
  if (config.tracing) logger.info({ url: config.tracing.tracesUrl }, 'exporting traces over OTLP/HTTP');
  let draining = false;
  const { gateway, upstreams, azureStatusFeed, redis } = composeGateway(config, logger, {
    ...options,
    ...(tracing ? { tracing } : {}),
    draining: () => draining,
    processMetrics: true,
  });
  if (redis !== undefined && !(await redis.connected(REDIS_START_WAIT_MS)))
    logger.warn('redis not reachable at start: serving anyway (keyed mutations are refused until it is)');
  const server = createHttpServer(config, httpFront(gateway, config.http.front));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return {
    server,
    url: `http://${host}:${port}`,
    async close(graceMs = config.shutdownTimeoutMs) {
      draining = true;
      // Subscriptions never finish on their own: complete their SSE streams now, so their
      // connections drain like any other instead of holding the close until the force timer.
      azureStatusFeed.close();
      let timedOut = false;
      const force = setTimeout(() => {
        timedOut = true;
        logger.warn({ graceMs }, 'in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
      }, graceMs);
      force.unref();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets turn idle as their last response goes out: close them as they do,
      // rather than waiting for the clients' keep-alive timeouts.
      server.closeIdleConnections();
      const sweeper = setInterval(() => server.closeIdleConnections(), 50);
      await closed;
      clearInterval(sweeper);
      clearTimeout(force);
      if (timedOut) await upstreams.destroy();
      else await upstreams.close();
      await redis?.close();
      // Exports the spans still buffered.
      await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'trace export failed at shutdown'));
    },
  };
}
