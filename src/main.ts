import { ConfigError, loadConfig } from './config.js';
import type { GatewayConfig } from './config.js';
import { createLogger } from './logger.js';
import { configSecrets } from './secrecy.js';
import { startGateway } from './server.js';

/** Entry point: config -> logger -> startGateway (composeGateway in server.ts wires the singletons) -> listen; signals. */

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

// The configuration's secrets are scrubbed from every line, whatever a later change logs.
const logger = createLogger(config.logLevel, undefined, { secrets: configSecrets(config) });
const running = await startGateway(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'gateway failed to start');
  process.exit(1);
});
logger.info(
  { npm: config.npm.baseUrl, axis: config.axis.baseUrl, autoCommit: config.axis.autoCommit },
  `gateway listening on ${running.url}/graphql`,
);

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  running.close().then(
    () => {
      logger.info('stopped');
      process.exit(0);
    },
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('unhandledRejection', (reason) => {
  logger.error({ err: reason }, 'unhandled rejection');
});
