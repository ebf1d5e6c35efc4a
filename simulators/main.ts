/**
 * Runs the upstream simulators as a program:
 *   tsx simulators/main.ts      (or, after npm run build:sim, node dist-sim/main.js)
 * Environment: see config.ts (NPM_SIM_PORT=4010, AXIS_SIM_PORT=4020,
 * SIM_HOST=127.0.0.1, SIM_ONLY=npm|axis, demo credentials by default).
 * Prints one line per simulator with its base URL; stops on SIGTERM/SIGINT.
 */
import { createAxisSimulator } from './axis-sim.js';
import { loadSimConfig } from './config.js';
import { createNpmSimulator } from './npm-sim.js';
import type { Simulator } from './sim-server.js';

const result = loadSimConfig(process.env);
if (!result.ok) {
  process.stderr.write(`Invalid simulator configuration:\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
const config = result.config;

const running: { name: string; sim: Simulator }[] = [];

async function startAll(): Promise<void> {
  if (config.only !== 'axis') {
    const sim = createNpmSimulator(config.npm.options);
    const url = await sim.start(config.npm.port, config.host);
    running.push({ name: 'npm-sim', sim });
    process.stdout.write(`npm-sim listening on ${url}\n`);
  }
  if (config.only !== 'npm') {
    const sim = createAxisSimulator(config.axis.options);
    const url = await sim.start(config.axis.port, config.host);
    running.push({ name: 'axis-sim', sim });
    process.stdout.write(`axis-sim listening on ${url} (prefix ${config.axis.options.prefix ?? '/api/v1'})\n`);
  }
}

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second signal means "now".
    process.exit(1);
  }
  stopping = true;
  // Last resort if a close ever stalls; unref'd so it never delays a clean exit.
  setTimeout(() => process.exit(1), 5_000).unref();
  await Promise.all(running.map(({ sim }) => sim.stop()));
  process.stdout.write(`simulators stopped (${signal})\n`);
  process.exitCode = 0;
}

process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));

try {
  await startAll();
} catch (err) {
  process.stderr.write(`Simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  await Promise.all(running.map(({ sim }) => sim.stop()));
  process.exit(1);
}
