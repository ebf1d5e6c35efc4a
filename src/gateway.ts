import { getOperationAST } from 'graphql';
import type { Context as TraceContext } from '@opentelemetry/api';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createYoga } from 'graphql-yoga';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import type { Principal } from './auth/principal.js';
import { useClientAuth } from './auth/use-client-auth.js';
import { useJwtAuth } from './auth/use-jwt-auth.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { createContextFactory } from './context.js';
import type { GatewayContext, GatewayRequestContext } from './context.js';
import { maskError } from './errors.js';
import { graphiqlOptions, renderGraphiQLOnDemand } from './graphiql.js';
import type { GatewayMetrics } from './metrics.js';
import type { Tracing } from './tracing.js';
import type { AzureStatusFeed } from './live/azure-status-feed.js';
import { useAuditLog } from './plugins/use-audit-log.js';
import { useIncrementalDelivery, usesIncrementalDelivery } from './plugins/use-defer-stream.js';
import { useNoStore } from './plugins/use-no-store.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { useIdempotency } from './plugins/use-idempotency.js';
import { useMetrics } from './plugins/use-metrics.js';
import { useOperationLog } from './plugins/use-operation-log.js';
import { usePersistedOperations } from './plugins/use-persisted-operations.js';
import { useDemandControl } from './plugins/use-demand-control.js';
import { useReadiness } from './plugins/use-readiness.js';
import { useRequestBudget, withEntityBudget } from './plugins/use-request-budget.js';
import { useRequestGuard } from './plugins/use-request-guard.js';
import { corsFor, useVaryOrigin } from './plugins/use-cors.js';
import { useSubscriptionLimits } from './plugins/use-subscription-limits.js';
import { createClientAddressOf } from './http/client-address.js';
import { createRefusalLog } from './http/refusal-log.js';
import { useRequestId } from './plugins/use-request-id.js';
import { useTracing } from './plugins/use-tracing.js';
import { resolvers } from './resolvers/index.js';
import { readSchemaSdl } from './schema.js';
import type { IdempotencyStore } from './stores/idempotency.js';
import type { RateLimitStore } from './stores/rate-limit.js';
import type { EntityLocks } from './stores/entity-lock.js';
import type { Upstreams } from './upstreams/index.js';
import { createYogaLogging } from './yoga-logging.js';

/** Where the state shared by requests lives: in memory for one process, or shared by a fleet. */
export interface GatewayStores {
  /** Undefined when RATE_LIMIT_RPS=0 (no rate limit). */
  rateLimit: RateLimitStore | undefined;
  idempotency: IdempotencyStore;
  /** Per-entity write locks: a read-merge-write of a user or group holds them throughout. */
  entityLocks: EntityLocks;
}

/** Everything the gateway runs on, built once by composeGateway (src/server.ts). */
export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  upstreams: Pick<Upstreams, 'npm' | 'axis'>;
  stores: GatewayStores;
  /** True once shutdown has begun (/ready answers 503). */
  draining: () => boolean;
  /** REDIS_URL set: Redis's state, for /ready's body. */
  redisState?: () => 'ready' | 'down';
  /** What GraphiQL's Headers tab starts with (the demo puts its key there). */
  graphiqlHeaders: Readonly<Record<string, string>>;
  /**
   * The registry `/metrics` serves, shared with the upstream layer's hooks; undefined with
   * METRICS_ENABLED=false (no /metrics at all).
   */
  metrics: GatewayMetrics | undefined;
  /** OpenTelemetry tracing; undefined means off. */
  tracing: Tracing | undefined;
  /** The azureStatus subscription's poller (shutdown ends its streams). */
  azureStatusFeed: AzureStatusFeed;
}

/**
 * Operation limits (graphql-armor), checked at parse and validation time, so a hostile
 * document is refused before any resolver or upstream call. Tuned on the README examples:
 * the deepest has depth 6, the costliest (the dashboard) costs 36 and the benchmark's nested
 * query 45, so a cost of 500 leaves a frontend ten times that; a dozen aliased
 * `users(pageSize: 1000) { ... groups { ... users } }` (633) does not pass.
 */
export const OPERATION_LIMITS = {
  maxDepth: 8,
  maxAliases: 15,
  maxCost: 500,
  maxTokens: 2_000,
  maxDirectives: 20,
} as const;

export type Gateway = YogaServerInstance<Record<string, unknown>, GatewayRequestContext>;

/** Builds the configured Yoga instance. It never listens: main.ts (or a test) binds it. */
export function createGateway({
  config,
  logger,
  upstreams,
  stores,
  draining,
  graphiqlHeaders,
  metrics,
  redisState,
  tracing,
  azureStatusFeed,
}: GatewayDeps): Gateway {
  const schema = withEntityBudget(
    makeExecutableSchema<GatewayContext>({
      typeDefs: readSchemaSdl(),
      resolvers,
    }),
  );
  const requestIds = new WeakMap<Request, string>();
  const principals = new WeakMap<Request, Principal>();
  const production = config.env === 'production';
  const jwt = useJwtAuth(config.auth);
  const clientAddressOf = createClientAddressOf(config.trustedProxies);
  const refusals = createRefusalLog(logger, config.refusalLogIntervalMs);
  const traces = tracing ? new WeakMap<Request, TraceContext>() : undefined;
  return createYoga<Record<string, unknown>, GatewayRequestContext>({
    schema,
    context: createContextFactory(
      {
        logger,
        npm: upstreams.npm,
        axis: upstreams.axis,
        axisAutoCommit: config.axis.autoCommit,
        requestTimeoutMs: config.resilience.requestTimeoutMs,
        requestBudget: config.requestBudget,
        azureStatusFeed,
        locks: stores.entityLocks,
      },
      requestIds,
      traces,
    ),
    maskedErrors: { maskError },
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    batching: false,
    multipart: false,
    // useRequestGuard checks Content-Length, and counts only chunked bodies (much cheaper per request).
    maxRequestBodySize: false,
    // Yoga reflects any Origin by default; only a listed origin gets CORS headers (use-cors.ts).
    cors: corsFor(config.corsOrigins, config.corsMaxAgeS),
    graphiql: graphiqlOptions(config, graphiqlHeaders),
    renderGraphiQL: renderGraphiQLOnDemand,
    logging: createYogaLogging(logger),
    plugins: [
      // First: its answer to a stopped request is what traces, metrics and logs then see.
      useRequestBudget(principals, refusals),
      ...(tracing && traces ? [useTracing({ tracing, traces })] : []),
      useRequestId(requestIds),
      useNoStore('/graphql'),
      useReadiness({
        npm: upstreams.npm,
        axis: upstreams.axis,
        logger,
        draining,
        ...(redisState ? { redis: redisState } : {}),
      }),
      useVaryOrigin(),
      useErrorCodes(),
      ...(metrics ? [useMetrics({ metrics, token: config.metrics.token })] : []),
      EnvelopArmorPlugin({
        maxDepth: { n: OPERATION_LIMITS.maxDepth, flattenFragments: true },
        maxAliases: { n: OPERATION_LIMITS.maxAliases },
        costLimit: { maxCost: OPERATION_LIMITS.maxCost },
        maxTokens: { n: OPERATION_LIMITS.maxTokens },
        maxDirectives: { n: OPERATION_LIMITS.maxDirectives },
        blockFieldSuggestion: { enabled: production },
      }) as Plugin,
      ...(config.introspection ? [] : [useDisableIntrospection()]),
      useOperationLog(logger),
      useAuditLog({ logger, principals }),
      ...(jwt ? [jwt] : []),
      useClientAuth({
        auth: config.auth,
        principals,
        rateLimit: stores.rateLimit,
        graphqlEndpoint: '/graphql',
        clientAddressOf,
        refusals,
        authFailureLimit: config.authFailureLimit,
      }),
      // After useClientAuth: a caller without a credential hears about that first.
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf', 'authorization', 'x-request-id'] }),
      useRequestGuard({
        graphqlEndpoint: '/graphql',
        maxBodyBytes: config.maxRequestBodyBytes,
        clientAddressOf,
        refusals,
      }),
      useSubscriptionLimits({ ...config.subscriptions, principals, refusals }),
      // After auth: a caller without a credential learns nothing about the manifest.
      ...(config.persistedOperations ? [usePersistedOperations(config.persistedOperations)] : []),
      useIdempotency({ store: stores.idempotency, principals }),
      useDemandControl(config.maxOperationCost, principals, refusals),
      // graphql-jit compiles each query once (cached per document) into plain JavaScript:
      // a fifth less CPU on the dashboard, ~40% less on large nested answers (bench/results.md).
      // Mutations and subscriptions keep graphql-js: mutations are small and rare, and a
      // subscription event is a handful of scalars, where compiling buys nothing. So do
      // queries with @defer/@stream: graphql-jit does not deliver incrementally.
      ...useIncrementalDelivery(),
      useGraphQlJit(
        {},
        {
          enableIf: (args) =>
            getOperationAST(args.document, args.operationName)?.operation === 'query' &&
            !usesIncrementalDelivery(args.document),
        },
      ) as Plugin,
    ],
  });
}
