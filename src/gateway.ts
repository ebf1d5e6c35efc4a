import { readFileSync } from 'node:fs';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga } from 'graphql-yoga';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { createContextFactory } from './context.js';
import type { GatewayContext, GatewayRequestContext } from './context.js';
import { UpstreamError, maskError } from './errors.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { useOperationLog } from './plugins/use-operation-log.js';
import { useRequestId } from './plugins/use-request-id.js';
import { resolvers } from './resolvers/index.js';
import type { Upstreams } from './upstreams/index.js';

export const SCHEMA_PATH = new URL('../schema.graphql', import.meta.url);

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
}

export type Gateway = YogaServerInstance<Record<string, unknown>, GatewayRequestContext>;

/** Builds the configured Yoga instance. It never listens: main.ts (or a test) binds it. */
export function createGateway({ config, logger, upstreams }: GatewayDeps): Gateway {
  const schema = makeExecutableSchema<GatewayContext>({
    typeDefs: readFileSync(SCHEMA_PATH, 'utf8'),
    resolvers,
  });
  const requestIds = new WeakMap<Request, string>();
  const yogaLog = logger.child({ component: 'yoga' });
  return createYoga<Record<string, unknown>, GatewayRequestContext>({
    schema,
    context: createContextFactory(
      { logger, npm: upstreams.npm, axis: upstreams.axis, axisAutoCommit: config.axis.autoCommit },
      requestIds,
    ),
    maskedErrors: { maskError },
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    graphiql: {
      title: 'NPM + Axis gateway',
      defaultQuery: DASHBOARD_QUERY,
    },
    renderGraphiQL,
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
    plugins: [useRequestId(requestIds), useErrorCodes(), useOperationLog()],
  });
}
