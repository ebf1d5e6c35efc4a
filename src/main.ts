import { createServer } from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import type { GatewayConfig } from './config.js';
import { createGateway } from './gateway.js';
import { createLogger } from './logger.js';
import { createUpstreams } from './upstreams/index.js';

/** Composition root: config -> logger -> upstream clients -> gateway -> listen; signals. */

let config: GatewayConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel);
const upstreams = createUpstreams(config, logger);
const gateway = createGateway({ config, logger, upstreams });
const server = createServer(gateway);

server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info(
    { port, host: config.host, npm: config.npm.baseUrl, axis: config.axis.baseUrl },
    `gateway listening on http://${config.host}:${port}/graphql`,
  );
});

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.warn('in-flight requests did not finish in time; closing connections');
    server.closeAllConnections();
  }, 10_000);
  force.unref();
  server.close(() => {
    void upstreams.close().finally(() => {
      logger.info('stopped');
      process.exit(0);
    });
  });
  server.closeIdleConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled rejection');
});
