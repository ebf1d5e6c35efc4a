import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import type { AxisSimulator, AxisSimulatorOptions } from '../../simulators/axis-sim.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import type { NpmSimulator, NpmSimulatorOptions } from '../../simulators/npm-sim.js';
import { startRedisServer } from './redis-server.js';
import type { RedisServer } from './redis-server.js';
import { freePort } from './redis-server.js';
import { ADMIN_KEY, AXIS_RW_TOKEN, NPM_PASSWORD, NPM_USER, frontEnv } from './stack.js';
import type { GraphQLResponse } from './stack.js';

/**
 * A fleet as an operator runs it: a real redis-server, N gateway PROCESSES (`src/main.ts`
 * under tsx, configured by environment only, REDIS_URL shared), a real nginx in front of
 * them (round robin), and the two simulators. Everything listens on loopback ports of its
 * own; nothing is the machine's services.
 */

export interface Replica {
  readonly index: number;
  /** e.g. http://127.0.0.1:41234 (fixed across restarts, so nginx keeps routing to it). */
  readonly url: string;
  /** Every log line (JSON) the process wrote since it was first started. */
  readonly logs: string[];
  /**
   * Every log line so far, once the process has written what it holds: its stdout is written
   * in batches of a few milliseconds (src/log-destination.ts), so a line may arrive after the
   * answer of the request that logged it. A request with a marked id is sent and its own line
   * awaited; the lines before it are then in too (one stream, in order).
   */
  flushedLogs(): Promise<string[]>;
  readonly running: boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface Fleet {
  npmSim: NpmSimulator;
  axisSim: AxisSimulator;
  redis: RedisServer;
  replicas: Replica[];
  /** nginx's address: what clients call. */
  lbUrl: string;
  gql(
    baseUrl: string,
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse>;
  close(): Promise<void>;
}

export interface FleetOptions {
  replicas?: number;
  env?: Record<string, string>;
  npm?: NpmSimulatorOptions;
  axis?: AxisSimulatorOptions;
}

function nginxConf(dir: string, port: number, backends: number[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gateways {
${backends.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 60s;
      # A POST that reached a replica is never sent to another (nginx's default for
      # non-idempotent methods); one refused at connect is.
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

async function startNginx(backends: number[]): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, backends));
  const child = spawn('nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    const up = await request(`${url}/health`).then(
      async (res) => {
        await res.body.dump();
        return true;
      },
      () => false,
    );
    if (up) break;
    if (i > 200) throw new Error(`nginx did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function createReplica(index: number, port: number, env: Record<string, string>): Replica {
  const logs: string[] = [];
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${port}`;
  let markers = 0;
  return {
    index,
    url,
    logs,
    async flushedLogs() {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return logs;
      const marker = `log-flush-${index}-${process.pid}-${++markers}`;
      const res = await request(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, 'x-request-id': marker },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      await res.body.dump();
      for (let i = 0; !logs.some((l) => l.includes(marker)); i += 1) {
        if (i > 400) throw new Error(`replica ${index} did not log request ${marker}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return logs;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { PATH: process.env['PATH'] ?? '', ...frontEnv(), ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      const from = logs.length;
      let partial = '';
      const onData = (d: Buffer) => {
        partial += d.toString();
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        logs.push(...lines.filter((l) => l !== ''));
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      for (let i = 0; !logs.slice(from).some((l) => l.includes('gateway listening on')); i += 1) {
        if (proc.exitCode !== null) throw new Error(`replica ${index} exited: ${logs.join('\n')}`);
        if (i > 2_400) throw new Error(`replica ${index} did not start: ${logs.join('\n')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async kill(signal = 'SIGKILL') {
      const proc = child;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill(signal);
      await exited;
    },
  };
}

export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const npmSim = createNpmSimulator({ username: NPM_USER, password: NPM_PASSWORD, syncDurationMs: 50, ...options.npm });
  const axisSim = createAxisSimulator({ tokens: { [AXIS_RW_TOKEN]: 'rw' }, ...options.axis });
  const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
  const redis = await startRedisServer();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NPM_BASE_URL: npmUrl,
    NPM_USERNAME: NPM_USER,
    NPM_PASSWORD: NPM_PASSWORD,
    AXIS_BASE_URL: axisUrl,
    AXIS_API_TOKEN: AXIS_RW_TOKEN,
    GATEWAY_API_KEYS: `fleet-admin=admin:${ADMIN_KEY}`,
    UPSTREAM_TIMEOUT_MS: '3000',
    RATE_LIMIT_RPS: '0',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'fleet:',
    SHUTDOWN_TIMEOUT_MS: '2000',
    ...options.env,
  };
  const ports = await Promise.all(Array.from({ length: options.replicas ?? 2 }, () => freePort()));
  const replicas = ports.map((port, i) => createReplica(i, port, env));
  await Promise.all(replicas.map((r) => r.start()));
  const nginx = await startNginx(ports);

  return {
    npmSim,
    axisSim,
    redis,
    replicas,
    lbUrl: nginx.url,
    async gql(baseUrl, query, variables, headers = {}) {
      const res = await request(`${baseUrl}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${ADMIN_KEY}`,
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.body.text();
      let body: GraphQLResponse['body'];
      try {
        body = JSON.parse(text) as GraphQLResponse['body'];
      } catch {
        body = { errors: [{ message: `not JSON (${res.statusCode}): ${text.slice(0, 200)}` }] };
      }
      return { status: res.statusCode, headers: res.headers, body };
    },
    async close() {
      await nginx.stop();
      await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
      await redis.stop();
      await Promise.all([npmSim.stop(), axisSim.stop()]);
    },
  };
}
