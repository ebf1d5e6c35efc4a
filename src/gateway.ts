import { getOperationAST } from 'graphql';
import type { Context as TraceContext } from '@opentelemetry/api';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createInlineSigningKeyProvider, createRemoteJwksSigningKeyProvider, useJWT } from '@graphql-yoga/plugin-jwt';
import type { GetSigningKeyFunction } from '@graphql-yoga/plugin-jwt';
import { createYoga } from 'graphql-yoga';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import type { Principal } from './auth/principal.js';
import { jwtBearerOf, useClientAuth } from './auth/use-client-auth.js';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { createContextFactory } from './context.js';
import type { GatewayContext, GatewayRequestContext } from './context.js';
import { maskError } from './errors.js';
import { UpstreamError } from './upstreams/upstream-error.js';
import { createMetrics } from './metrics.js';
import type { GatewayMetrics } from './metrics.js';
import type { Tracing } from './tracing.js';
import { createAzureStatusFeed } from './live/azure-status-feed.js';
import type { AzureStatusFeed } from './live/azure-status-feed.js';
import { useAuditLog } from './plugins/use-audit-log.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { useIdempotency } from './plugins/use-idempotency.js';
import { useMetrics } from './plugins/use-metrics.js';
import { useOperationLog } from './plugins/use-operation-log.js';
import { usePersistedOperations } from './plugins/use-persisted-operations.js';
import { useReadiness } from './plugins/use-readiness.js';
import { useRequestGuard } from './plugins/use-request-guard.js';
import { useRequestId } from './plugins/use-request-id.js';
import { useTracing } from './plugins/use-tracing.js';
import { resolvers } from './resolvers/index.js';
import { readSchemaSdl } from './schema.js';
import { MemoryIdempotencyStore } from './stores/idempotency.js';
import type { IdempotencyStore } from './stores/idempotency.js';
import { MemoryRateLimitStore } from './stores/rate-limit.js';
import type { RateLimitStore } from './stores/rate-limit.js';
import type { Upstreams } from './upstreams/index.js';

/** What GraphiQL shows on first open: the dashboard a frontend would load. */
export const DASHBOARD_QUERY = `# One request, both upstreams, fetched in parallel.
query Dashboard {
  azureStatus { enabled state lastSyncAt }
  azureAccounts { accId tenantId }
  users(pageSize: 50) {
    totalRecords
    nodes { id userName email groups { id name } }
  }
}
`;

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  upstreams: Pick<Upstreams, 'npm' | 'axis'>;
  /** Shared stores for several replicas; in-memory ones by default. */
  stores?: { rateLimit?: RateLimitStore; idempotency?: IdempotencyStore };
  /** True once shutdown has begun (/ready answers 503). */
  draining?: () => boolean;
  /** What GraphiQL's Headers tab starts with (the demo puts its key there). */
  graphiqlHeaders?: Record<string, string>;
  /**
   * The registry `/metrics` serves, shared with the upstream layer's hooks (see
   * composeGateway). Without one, a registry of GraphQL metrics only is made here.
   */
  metrics?: GatewayMetrics;
  /** OpenTelemetry tracing; absent means off. */
  tracing?: Tracing;
  /**
   * The azureStatus subscription's poller. composeGateway builds it, so shutdown can end its
   * streams; without one, the gateway builds its own.
   */
  azureStatusFeed?: AzureStatusFeed;
}

/** GraphiQL's first document: how to authenticate, then the dashboard. */
const GRAPHIQL_DOCUMENT = `# Every operation needs a credential: open the "Headers" tab below and set
#   { "Authorization": "Bearer <your API key or JWT>" }
# (viewer keys run queries; admin keys also run mutations).
${DASHBOARD_QUERY}`;

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

/** A JWT's header, or undefined when it is not readable JSON. */
function jwtHeader(token: string): { alg?: unknown; kid?: unknown } | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' ? (header as { alg?: unknown; kid?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function jwtPlugin(config: GatewayConfig): Plugin | undefined {
  const jwt = config.auth.jwt;
  if (config.auth.disabled || jwt === undefined) return undefined;
  // A token with a `kid` is checked against the JWKS, one without against the shared secret
  // (jwks-rsa would otherwise hand out its only key for any token). Only the algorithms of
  // configured keys are accepted, and jsonwebtoken refuses a public key as an HMAC secret.
  const providers: GetSigningKeyFunction[] = [];
  const algorithms: Array<'RS256' | 'ES256' | 'HS256'> = [];
  if (jwt.jwksUrl !== undefined) {
    const jwks = createRemoteJwksSigningKeyProvider({
      jwksUri: jwt.jwksUrl,
      cache: true,
      rateLimit: true,
      timeout: 5_000,
    });
    providers.push((kid) => (kid === undefined ? '' : jwks(kid)));
    algorithms.push('RS256', 'ES256');
  }
  if (jwt.secret !== undefined) {
    providers.push(createInlineSigningKeyProvider(jwt.secret));
    algorithms.push('HS256');
  }
  return useJWT({
    signingKeyProviders: providers as [GetSigningKeyFunction, ...GetSigningKeyFunction[]],
    // Only tokens some configured key could verify reach the plugin (it answers 500 when no
    // provider has a key); every other bearer is left to useClientAuth, which refuses it as
    // UNAUTHENTICATED.
    tokenLookupLocations: [
      ({ request }) => {
        const token = jwtBearerOf(request);
        const header = token === undefined ? undefined : jwtHeader(token);
        if (token === undefined || header === undefined || !algorithms.includes(header.alg as 'HS256'))
          return undefined;
        if (header.alg !== 'HS256' && header.kid === undefined) return undefined;
        return { token, prefix: 'Bearer' };
      },
    ],
    tokenVerification: {
      algorithms,
      ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
      ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
    },
    // Our useClientAuth decides: an invalid token may still be a valid API key... and the
    // refusal must carry our UNAUTHENTICATED code.
    reject: { missingToken: false, invalidToken: false },
  }) as Plugin;
}

/** One feed per gateway instance, polling NPM through the gateway's own client. */
export function createAzureStatusFeedFor(
  config: GatewayConfig,
  logger: Logger,
  upstreams: Pick<Upstreams, 'npm'>,
): AzureStatusFeed {
  return createAzureStatusFeed({
    getStatus: (call) => upstreams.npm.getStatus(call),
    pollMs: config.azureStatusPollMs,
    pollTimeoutMs: config.resilience.requestTimeoutMs,
    logger,
  });
}

export type Gateway = YogaServerInstance<Record<string, unknown>, GatewayRequestContext>;

/** Builds the configured Yoga instance. It never listens: main.ts (or a test) binds it. */
export function createGateway({
  config,
  logger,
  upstreams,
  stores = {},
  draining = () => false,
  graphiqlHeaders = { Authorization: 'Bearer <your API key or JWT>' },
  metrics = config.metrics.enabled ? createMetrics() : undefined,
  tracing,
  azureStatusFeed = createAzureStatusFeedFor(config, logger, upstreams),
}: GatewayDeps): Gateway {
  const schema = makeExecutableSchema<GatewayContext>({
    typeDefs: readSchemaSdl(),
    resolvers,
  });
  const requestIds = new WeakMap<Request, string>();
  const principals = new WeakMap<Request, Principal>();
  const yogaLog = logger.child({ component: 'yoga' });
  const production = config.env === 'production';
  if (config.auth.disabled) {
    logger.warn(
      "CLIENT AUTHENTICATION IS DISABLED: every caller can run every query and mutation with the gateway's upstream credentials. Set GATEWAY_API_KEYS or AUTH_JWT_SECRET/AUTH_JWKS_URL.",
    );
  }
  const rateLimit =
    config.rateLimit.rps > 0 ? (stores.rateLimit ?? new MemoryRateLimitStore(config.rateLimit)) : undefined;
  const idempotency =
    stores.idempotency ??
    new MemoryIdempotencyStore({
      ttlMs: config.idempotencyTtlMs,
      runningTtlMs: config.resilience.requestTimeoutMs + 5_000,
    });
  const jwt = jwtPlugin(config);
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
        azureStatusFeed,
      },
      requestIds,
      principals,
      traces,
    ),
    maskedErrors: { maskError },
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    batching: false,
    multipart: false,
    // Checked on Content-Length by useRequestGuard instead (much cheaper per request).
    maxRequestBodySize: false,
    // Yoga reflects any Origin by default; only the allowlist gets CORS headers.
    cors: config.corsOrigins.length
      ? {
          origin: config.corsOrigins,
          credentials: false,
          allowedHeaders: ['content-type', 'authorization', 'x-request-id', 'idempotency-key', 'x-graphql-yoga-csrf'],
          exposedHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed'],
          methods: ['GET', 'POST'],
        }
      : false,
    graphiql: config.graphiql
      ? {
          title: 'NPM + Axis gateway',
          defaultQuery: config.auth.disabled ? DASHBOARD_QUERY : GRAPHIQL_DOCUMENT,
          headers: config.auth.disabled ? undefined : JSON.stringify(graphiqlHeaders, null, 2),
          shouldPersistHeaders: false,
        }
      : false,
    // The self-contained GraphiQL page is a ~38 MB module once loaded: only load it the first
    // time someone opens GraphiQL (never, in production by default).
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    logging: {
      debug: (...args: unknown[]) => yogaLog.debug(String(args[0])),
      info: (...args: unknown[]) => yogaLog.info(String(args[0])),
      warn: (...args: unknown[]) => yogaLog.warn(String(args[0])),
      // Yoga reports every resolver error here. Upstream failures are expected and already
      // logged (with their code) by useOperationLog, so they drop to debug.
      error: (...args: unknown[]) => {
        const err = args[0];
        if (!(err instanceof Error)) return yogaLog.error(String(err));
        const expected =
          err instanceof UpstreamError || (err as { originalError?: unknown }).originalError instanceof UpstreamError;
        if (expected) yogaLog.debug({ err }, 'upstream failure');
        else yogaLog.error({ err }, 'yoga error');
      },
    },
    plugins: [
      ...(tracing && traces ? [useTracing({ tracing, traces })] : []),
      useRequestId(requestIds),
      useReadiness({ npm: upstreams.npm, axis: upstreams.axis, logger, draining }),
      useRequestGuard('/graphql', config.maxRequestBodyBytes),
      useErrorCodes(),
      ...(config.metrics.enabled && metrics ? [useMetrics({ metrics, token: config.metrics.token })] : []),
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf', 'authorization', 'x-request-id'] }),
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
      useClientAuth({ auth: config.auth, principals, rateLimit }),
      // After auth: a caller without a credential learns nothing about the manifest.
      ...(config.persistedOperations ? [usePersistedOperations(config.persistedOperations)] : []),
      useIdempotency({ store: idempotency, principals }),
      // graphql-jit compiles each query once (cached per document) into plain JavaScript:
      // a fifth less CPU on the dashboard, ~40% less on large nested answers (bench/results.md).
      // Mutations and subscriptions keep graphql-js: mutations are small and rare, and a
      // subscription event is a handful of scalars, where compiling buys nothing.
      useGraphQlJit(
        {},
        { enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation === 'query' },
      ) as Plugin,
    ],
  });
}
