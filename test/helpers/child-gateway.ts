import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import type { AxisSimulator } from '../../simulators/axis-sim.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import type { NpmSimulator } from '../../simulators/npm-sim.js';
import { ADMIN_KEY, AXIS_RW_TOKEN, NPM_PASSWORD, NPM_USER, VIEWER_KEY, frontEnv } from './stack.js';
import type { GraphQLResponse } from './stack.js';

export interface ChildStats {
  rssBytes: number;
  /** The process's peak RSS so far. */
  maxRssBytes: number;
  /** Longest event-loop stall since the previous stats() call, in wall time (waiting for a core included). */
  maxLoopDelayMs: number;
  /**
   * The main thread's most CPU time between two turns of a 10 ms timer since the previous
   * stats() call: the longest synchronous stretch of the gateway's own work, however loaded
   * the machine is (child-probe.ts).
   */
  maxLoopWorkMs: number;
}

export interface ChildGateway {
  url: string;
  axisSim: AxisSimulator;
  npmSim: NpmSimulator;
  child: ChildProcess;
  /** The gateway's stdout (pino JSON lines) and stderr so far. */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  stats(): Promise<ChildStats>;
  /** POSTs an operation with `Authorization: Bearer VIEWER_KEY` unless told otherwise. */
  gql(query: string, headers?: Record<string, string>): Promise<GraphQLResponse & { ms: number; bytes: number }>;
  close(): Promise<void>;
}

export interface ChildGatewayOptions {
  seedUsers: number;
  seedGroups?: number;
  env?: Record<string, string>;
  /** V8 heap cap of the child, so a runaway request cannot take the machine with it. */
  maxOldSpaceMb?: number;
  /** More Node options for the child, e.g. `--cpu-prof` to see where a request's time goes. */
  nodeArgs?: string[];
}

const PROBE = fileURLToPath(new URL('./child-probe.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The production gateway in its own process (`tsx src/main.ts`, NODE_ENV=production,
 * configured by environment only) against the two simulators seeded like a real tenant,
 * with the child's RSS and event-loop stalls readable over IPC: what a test of memory and
 * latency must measure, since the test runner's own heap would blur both.
 */
export async function startChildGateway(options: ChildGatewayOptions): Promise<ChildGateway> {
  const npmSim = createNpmSimulator({ username: NPM_USER, password: NPM_PASSWORD });
  const axisSim = createAxisSimulator({
    tokens: { [AXIS_RW_TOKEN]: 'rw' },
    seedUsers: options.seedUsers,
    seedGroups: options.seedGroups ?? 12,
  });
  const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
  const child = spawn(
    process.execPath,
    [
      `--max-old-space-size=${options.maxOldSpaceMb ?? 1024}`,
      ...(options.nodeArgs ?? []),
      '--import',
      'tsx',
      '--import',
      PROBE,
      'src/main.ts',
    ],
    {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        NODE_ENV: 'production',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        NPM_BASE_URL: npmUrl,
        NPM_USERNAME: NPM_USER,
        NPM_PASSWORD: NPM_PASSWORD,
        AXIS_BASE_URL: axisUrl,
        AXIS_API_TOKEN: AXIS_RW_TOKEN,
        GATEWAY_API_KEYS: `ops=admin:${ADMIN_KEY},attacker=viewer:${VIEWER_KEY}`,
        RATE_LIMIT_RPS: '0',
        METRICS_ENABLED: 'false',
        ...frontEnv(),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let out = '';
  let exited = false;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exit = once(child, 'exit').then(() => (exited = true));
  const stopSims = () => Promise.all([npmSim.stop(), axisSim.stop()]);

  let url: string | undefined;
  for (let i = 0; i < 300 && url === undefined && !exited; i++) {
    url = /gateway listening on (http:\/\/\S+)\/graphql/.exec(out)?.[1];
    if (url === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (url === undefined) {
    child.kill('SIGKILL');
    await stopSims();
    throw new Error(`child gateway did not start:\n${out}`);
  }
  const base = url;

  return {
    url: base,
    axisSim,
    npmSim,
    child,
    output: () => out,
    alive: () => !exited,
    async stats() {
      const answer = once(child, 'message') as Promise<[ChildStats]>;
      child.send('stats');
      const [stats] = await answer;
      return stats;
    },
    async gql(query, headers = {}) {
      const started = performance.now();
      const res = await request(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${VIEWER_KEY}`,
          ...headers,
        },
        body: JSON.stringify({ query }),
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        headers: res.headers,
        body: JSON.parse(text) as GraphQLResponse['body'],
        ms: performance.now() - started,
        bytes: Buffer.byteLength(text),
      };
    },
    async close() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
      await stopSims();
    },
  };
}
