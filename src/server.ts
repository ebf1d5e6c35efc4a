import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { createAzureStatusFeedFor, createGateway } from './gateway.js';
import type { GatewayDeps } from './gateway.js';
import { createMetrics } from './metrics.js';
import { startTracing } from './tracing.js';
import type { GatewayMetrics } from './metrics.js';
import type { AzureStatusFeed } from './live/azure-status-feed.js';
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
  gateway: ReturnType<typeof createGateway>;
  upstreams: Upstreams;
  metrics: GatewayMetrics | undefined;
  azureStatusFeed: AzureStatusFeed;
}

/**
 * The singletons, wired: metrics and tracing hooks into the upstream clients, the
 * azureStatus subscription's poller, and the gateway over them. `tracing` comes from startTracing (or a test's in-memory exporter).
 */
export function composeGateway(
  config: GatewayConfig,
  logger: Logger,
  options: Pick<GatewayDeps, 'graphiqlHeaders' | 'draining' | 'tracing'> & { processMetrics?: boolean } = {},
): GatewayParts {
  const { tracing, processMetrics = false, ...rest } = options;
  const metrics = config.metrics.enabled ? createMetrics({ processMetrics }) : undefined;
  const upstreams = createUpstreams(config, logger, {
    ...(metrics ? { onCall: metrics.upstreamCall, onNpmLogin: metrics.npmLogin } : {}),
    ...(tracing ? { tracing } : {}),
  });
  metrics?.watchCircuits(upstreams.circuits);
  const azureStatusFeed = createAzureStatusFeedFor(config, logger, upstreams);
  metrics?.watchSubscribers(() => azureStatusFeed.subscribers);
  const gateway = createGateway({
    config,
    logger,
    upstreams,
    azureStatusFeed,
    ...(metrics ? { metrics } : {}),
    ...(tracing ? { tracing } : {}),
    ...rest,
  });
  return { gateway, upstreams, metrics, azureStatusFeed };
}

/** Builds the singletons (composeGateway) and binds the gateway to a port. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  options: Pick<GatewayDeps, 'graphiqlHeaders'> = {},
): Promise<RunningGateway> {
  const tracing = config.tracing ? await startTracing(config.tracing) : undefined;
  if (config.tracing) logger.info({ url: config.tracing.tracesUrl }, 'exporting traces over OTLP/HTTP');
  let draining = false;
  const { gateway, upstreams, azureStatusFeed } = composeGateway(config, logger, {
    ...options,
    ...(tracing ? { tracing } : {}),
    draining: () => draining,
    processMetrics: true,
  });
  const server = createServer(gateway);
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
      // Exports the spans still buffered.
      await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'trace export failed at shutdown'));
    },
  };
}
