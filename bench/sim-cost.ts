/**
 * CPU per request of the simulator process alone, for each route the benchmark uses: the
 * simulators share the machine with the servers under test, so their cost caps what the
 * benchmark can show. Needs `npm run build:sim`; run with `npx tsx bench/sim-cost.ts [--cpu-prof <dir>]`.
 *
 * Each route: a 2 s warm-up, then three windows of 30 000 requests at 16 connections; the
 * median µs of simulator user+system CPU per request is printed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { cpuMs, freePort, startChild, stopAll } from './procs.js';
import { median } from './stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { 'cpu-prof': { type: 'string' } } });
const profDir = values['cpu-prof'];

const [npmPort, axisPort] = await Promise.all([freePort(), freePort()]);
const npm = `http://127.0.0.1:${npmPort}`;
const axis = `http://127.0.0.1:${axisPort}`;
const sims = await startChild({
  name: 'simulators',
  command: process.execPath,
  args: [...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]), 'dist-sim/main.js'],
  cwd: ROOT,
  logDir: mkdtempSync(join(tmpdir(), 'sim-cost-')),
  env: { SIM_HOST: '127.0.0.1', NPM_SIM_PORT: String(npmPort), AXIS_SIM_PORT: String(axisPort) },
  healthUrls: [`${npm}/__sim/health`, `${axis}/__sim/health`],
});

const login = await request(`${npm}/api/mgmt.aaa/1.0/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ user_credentials: { username: 'admin', password: 'demo-npm-password' } }),
});
const { access_token: token } = (await login.body.json()) as { access_token: string };
const npmHeaders = { authorization: `Bearer ${token}`, accept: 'application/json' };
const axisHeaders = { authorization: 'Bearer demo-axis-rw-token', accept: 'application/json' };
const user = (await (await request(`${axis}/api/v1/users/u-0001`, { headers: axisHeaders })).body.json()) as {
  userName: string;
  email: string;
  lastName: string;
  groups: { id: string }[];
};
const put = JSON.stringify({
  userName: user.userName,
  email: user.email,
  firstName: 'Bench',
  lastName: user.lastName,
  enabled: true,
  expiration: '',
  groups: user.groups.map((g) => ({ id: g.id })),
});

const routes: {
  name: string;
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}[] = [
  { name: 'status.get', method: 'GET', url: `${npm}/api/npm.azure_config/1.0/status`, headers: npmHeaders },
  { name: 'authCodes.get', method: 'GET', url: `${npm}/api/npm.azure_config/1.0/auth_codes`, headers: npmHeaders },
  { name: 'users.list 50', method: 'GET', url: `${axis}/api/v1/users?pageSize=50&pageNumber=1`, headers: axisHeaders },
  {
    name: 'users.list 1000',
    method: 'GET',
    url: `${axis}/api/v1/users?pageSize=1000&pageNumber=1`,
    headers: axisHeaders,
  },
  {
    name: 'groups.list 1000',
    method: 'GET',
    url: `${axis}/api/v1/groups?pageSize=1000&pageNumber=1`,
    headers: axisHeaders,
  },
  { name: 'users.get', method: 'GET', url: `${axis}/api/v1/users/u-0001`, headers: axisHeaders },
  {
    name: 'users.update',
    method: 'PUT',
    url: `${axis}/api/v1/users/u-0001`,
    headers: { ...axisHeaders, 'content-type': 'application/json' },
    body: put,
  },
  { name: 'commit', method: 'POST', url: `${axis}/api/v1/commit`, headers: axisHeaders },
];

try {
  for (const route of routes) {
    const options = { url: route.url, method: route.method, headers: route.headers, body: route.body, connections: 16 };
    await autocannon({ ...options, duration: 2 });
    const perRequest: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = cpuMs(sims.pid);
      const result = await autocannon({ ...options, amount: 30_000 });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${route.name}: ${result.non2xx} non-2xx answers`);
      perRequest.push(((cpuMs(sims.pid) - before) * 1000) / result.requests.total);
    }
    process.stdout.write(
      `${route.name.padEnd(18)} ${median(perRequest).toFixed(1).padStart(6)} µs/req  (${perRequest.map((v) => v.toFixed(1)).join(', ')})\n`,
    );
  }
} finally {
  await stopAll();
}
