/**
 * `npm run demo`: both upstream simulators and the gateway in one process, wired together,
 * with logs pretty-printed. Ports: PORT (4000), NPM_SIM_PORT (4010), AXIS_SIM_PORT (4020);
 * 0 picks free ones.
 */
import { loadConfig } from '../src/config.js';
import { DASHBOARD_QUERY } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { startGateway } from '../src/server.js';
import { createAxisSimulator } from '../src/simulators/axis-sim.js';
import { createNpmSimulator } from '../src/simulators/npm-sim.js';
import { pino } from 'pino';

const DEMO_NPM_USER = 'admin';
const DEMO_NPM_PASSWORD = 'demo-npm-password';
const DEMO_AXIS_TOKEN = 'demo-axis-rw-token';
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** A port another program holds is the one likely failure here: say which and how to move. */
function explain(err: unknown, variable: string, fallback: number): never {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') {
    process.stderr.write(
      `Port ${port(variable, fallback)} is in use. Free it, or pick another: ${variable}=<port> npm run demo (0 = any free port)\n`,
    );
  } else {
    process.stderr.write(`The demo could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
}

const npmSim = createNpmSimulator({ username: DEMO_NPM_USER, password: DEMO_NPM_PASSWORD });
const axisSim = createAxisSimulator();
const npmUrl = await npmSim
  .start(port('NPM_SIM_PORT', 4010), '127.0.0.1')
  .catch((e: unknown) => explain(e, 'NPM_SIM_PORT', 4010));
const axisUrl = await axisSim
  .start(port('AXIS_SIM_PORT', 4020), '127.0.0.1')
  .catch((e: unknown) => explain(e, 'AXIS_SIM_PORT', 4020));

const config = loadConfig({
  NODE_ENV: 'development',
  PORT: String(port('PORT', 4000)),
  HOST: process.env['HOST'] ?? '127.0.0.1',
  LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
  NPM_BASE_URL: npmUrl,
  NPM_USERNAME: DEMO_NPM_USER,
  NPM_PASSWORD: DEMO_NPM_PASSWORD,
  AXIS_BASE_URL: axisUrl,
  AXIS_API_TOKEN: DEMO_AXIS_TOKEN,
});
const pretty = process.stdout.isTTY
  ? pino.transport({ target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } })
  : undefined;
const logger = createLogger(config.logLevel, pretty);
const gateway = await startGateway(config, logger).catch((e: unknown) => explain(e, 'PORT', 4000));

process.stdout.write(`
  NPM + Axis GraphQL gateway (demo)

  GraphiQL   ${gateway.url}/graphql
  Health     ${gateway.url}/health
  NPM sim    ${npmUrl}   (user ${DEMO_NPM_USER})
  Axis sim   ${axisUrl}  (read-write token)
  Sim control: POST ${axisUrl}/__sim/faults {"route":"users.list","action":{"type":"hang"}}

  Try it from a terminal:
  curl -s ${gateway.url}/graphql -H 'content-type: application/json' \\
    -d '{"query":"{ azureStatus { state lastSyncAt } users(pageSize: 3) { totalRecords nodes { userName groups { name } } } }"}'

  GraphiQL opens with this query:
${DASHBOARD_QUERY.split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
  Ctrl-C stops everything.
`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  await gateway.close(2_000);
  await Promise.all([npmSim.stop(), axisSim.stop()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
