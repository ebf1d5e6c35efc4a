/**
 * `npm run demo`: both upstream simulators and the gateway in one process, wired together,
 * with logs pretty-printed. Ports: PORT (4000), NPM_SIM_PORT (4010), AXIS_SIM_PORT (4020);
 * 0 picks free ones. The gateway's documented variables apply, except those that wire it to
 * the simulators (NPM_*, AXIS_BASE_URL, AXIS_API_TOKEN, GATEWAY_API_KEYS) and NODE_ENV.
 */
import { ConfigError, loadConfig } from '../src/config.js';
import type { GatewayConfig } from '../src/config.js';
import { DASHBOARD_QUERY } from '../src/graphiql.js';
import { createLogger } from '../src/logger.js';
import { startGateway } from '../src/server.js';
import { createAxisSimulator } from '../simulators/axis-sim.js';
import { createNpmSimulator } from '../simulators/npm-sim.js';
import { MANIFEST_PATH } from './persisted-operations.js';
import { pino } from 'pino';

const DEMO_NPM_USER = 'admin';
const DEMO_NPM_PASSWORD = 'demo-npm-password';
const DEMO_AXIS_TOKEN = 'demo-axis-rw-token';
/** Client API keys of the demo gateway (printed at start; GraphiQL is pre-filled with the admin one). */
const DEMO_ADMIN_KEY = 'demo-admin-key-0123456789abcdef';
const DEMO_VIEWER_KEY = 'demo-viewer-key-0123456789abcdef';
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

/** A bad variable stops the demo with one line per problem, as it stops the gateway. */
function loadDemoConfig(env: Record<string, string | undefined>): GatewayConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
    process.exit(1);
  }
}

const npmSim = createNpmSimulator({ username: DEMO_NPM_USER, password: DEMO_NPM_PASSWORD });
const axisSim = createAxisSimulator();
const npmUrl = await npmSim
  .start(port('NPM_SIM_PORT', 4010), '127.0.0.1')
  .catch((e: unknown) => explain(e, 'NPM_SIM_PORT', 4010));
const axisUrl = await axisSim
  .start(port('AXIS_SIM_PORT', 4020), '127.0.0.1')
  .catch((e: unknown) => explain(e, 'AXIS_SIM_PORT', 4020));

// The demo decides what wires it together (the simulators it starts, their credentials, the
// keys it prints); every other documented variable comes from the environment as for the
// gateway itself (README, Configuration): CORS_ORIGINS, LOG_LEVEL, PORT, AZURE_STATUS_POLL_MS...
const config = loadDemoConfig({
  HOST: '127.0.0.1',
  // The README's examples, also runnable by documentId (README, "Persisted operations").
  PERSISTED_OPERATIONS_FILE: MANIFEST_PATH,
  ...process.env,
  NODE_ENV: 'development',
  PORT: String(port('PORT', 4000)),
  NPM_BASE_URL: npmUrl,
  NPM_ACCESS_TOKEN: undefined,
  NPM_USERNAME: DEMO_NPM_USER,
  NPM_PASSWORD: DEMO_NPM_PASSWORD,
  AXIS_BASE_URL: axisUrl,
  AXIS_API_TOKEN: DEMO_AXIS_TOKEN,
  GATEWAY_API_KEYS: `demo-admin=admin:${DEMO_ADMIN_KEY},demo-viewer=viewer:${DEMO_VIEWER_KEY}`,
});
const pretty = process.stdout.isTTY
  ? pino.transport({ target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } })
  : undefined;
const logger = createLogger(config.logLevel, pretty);
const gateway = await startGateway(config, logger, {
  graphiqlHeaders: { Authorization: `Bearer ${DEMO_ADMIN_KEY}` },
}).catch((e: unknown) => explain(e, 'PORT', 4000));

process.stdout.write(`
  NPM + Axis GraphQL gateway (demo)

  GraphiQL   ${gateway.url}/graphql
  Health     ${gateway.url}/health
  NPM sim    ${npmUrl}   (user ${DEMO_NPM_USER})
  Axis sim   ${axisUrl}  (read-write token)
  Ready      ${gateway.url}/ready
  Metrics    ${gateway.url}/metrics   (Prometheus; docs/grafana-dashboard.json charts them)
  Sim control: POST ${axisUrl}/__sim/faults {"route":"users.list","action":{"type":"hang"}}

  Client API keys (send as "Authorization: Bearer <key>"; GraphiQL's Headers tab has the admin one):
    admin   ${DEMO_ADMIN_KEY}   (queries and mutations)
    viewer  ${DEMO_VIEWER_KEY}  (queries only)

  Try it from a terminal:
  curl -s ${gateway.url}/graphql -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${DEMO_VIEWER_KEY}' \\
    -d '{"query":"{ azureStatus { state lastSyncAt } users(pageSize: 3) { totalRecords nodes { userName groups { name } } } }"}'

  Watch the sync status live (then run syncAzureAccounts in GraphiQL):
  curl -N ${gateway.url}/graphql -H 'accept: text/event-stream' -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${DEMO_VIEWER_KEY}' \\
    -d '{"query":"subscription { azureStatus { state lastSyncAt } }"}'

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
