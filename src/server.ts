import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { createAzureStatusFeedFor, createGateway } from './gateway.js';
import type { GatewayDeps } from './gateway.js';
import { createUpstreams } from './upstreams/index.js';

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

/** Builds the singletons (upstream clients, azureStatus feed, gateway) and binds the gateway to a port. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  options: Pick<GatewayDeps, 'graphiqlHeaders'> = {},
): Promise<RunningGateway> {
  const upstreams = createUpstreams(config, logger);
  let draining = false;
  const azureStatusFeed = createAzureStatusFeedFor(config, logger, upstreams);
  const gateway = createGateway({
    config,
    logger,
    upstreams,
    azureStatusFeed,
    draining: () => draining,
    ...options,
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
    },
  };
}
