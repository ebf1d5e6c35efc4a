/**
 * `npm run bench [-- flags]`: the gateway's production build in its default configuration
 * against the floor (bench/floor.ts) and two reference servers (naive graphql-yoga, fastify +
 * mercurius with graphql-jit), all over the same simulators, each a separate process. See
 * bench/README.md for what is measured and how to read it.
 *
 *   --duration <s>      measured seconds per run (10), as a request count from the warm-up's rate
 *   --warmup <s>        warm-up seconds before each run, at least 1 (3; 10 in soak mode);
 *                       its rate sizes the measured window
 *   --connections <n>   concurrent connections of every run but --serial's (32)
 *   --rounds <n>        rounds; the report shows medians across them (3)
 *   --scenarios Q1,Q2   a subset of Q1,Q2,Q3,M1
 *   --servers a,b       a subset of floor,mercurius,yoga,gateway (all; the ratios need the floor)
 *   --latency <ms>      upstream latency of the second set of runs, at --connections (20; 0 skips them)
 *   --serial            also run every op one request at a time with --latency added
 *   --quick             2 s runs, 1 s warm-up, 1 round: a smoke run
 *   --soak <s>          instead: Q1 against the gateway for <s> seconds, RSS slope
 *   --cpu-prof <dir>    run every process under `node --cpu-prof`, write the profiles to <dir>
 *                       and print their top functions; results.md is left alone (the
 *                       profiler slows everything down)
 *   --gateway-env K=V   an extra environment variable for the gateway, repeatable (e.g.
 *                       METRICS_ENABLED=false, to price a feature against a run with it on)
 *   --no-redis          skip the Price of Redis: by default, when the gateway runs with Q1 or
 *                       M1, a second gateway process with REDIS_URL set (a redis-server of the
 *                       bench's own, no persistence) runs Q1 and M1K (M1 with a fresh
 *                       Idempotency-Key per request) beside the in-memory one, at the first
 *                       phase's connections and no added latency, interleaved, same rounds
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import ts from 'typescript';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { API_KEY, HEADERS, gatewayEnvironment, simulatorsEnvironment, upstreamEnvironment } from './environment.js';
import { hasData, runLoad, stopLoad } from './load.js';
import { summariseFile } from './profile-summary.js';
import { clockTicksPerSecond, cpuMs, freePort, peakRssMb, rssMb, startChild, startRedis, stopAll } from './procs.js';
import type { Child } from './procs.js';
import {
  TARGETS,
  checkTargets,
  detailTable,
  isTarget,
  redisPriceTable,
  redisPrices,
  standingTable,
  summarise,
  targetsTable,
  throughputTable,
} from './report.js';
import type { Phase, RunResult, Server, Target } from './report.js';
import { SCENARIOS, SCENARIO_NAMES, isScenarioName, requestBody } from './scenarios.js';
import type { Scenario, ScenarioName } from './scenarios.js';
import { leastSquares } from './stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = join(ROOT, 'bench', 'results.md');

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

interface Settings {
  durationSec: number;
  warmupSec: number;
  connections: number;
  rounds: number;
  scenarios: ScenarioName[];
  servers: Target[];
  latencyMs: number;
  serial: boolean;
  soakSec: number | undefined;
  cpuProfDir: string | undefined;
  /** Extra environment for the gateway process (--gateway-env). */
  gatewayEnv: Record<string, string>;
  /** The Price of Redis runs (on unless --no-redis). */
  redis: boolean;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      servers: { type: 'string' },
      latency: { type: 'string' },
      serial: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      soak: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'gateway-env': { type: 'string', multiple: true },
      'no-redis': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0] ?? '';
    process.stdout.write(`${header.replace(/^\/\*\*|^ \* ?/gm, '')}\n`);
    process.exit(0);
  }
  const num = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got "${value}"`);
    return n;
  };
  const quick = values.quick;
  const soakSec = values.soak === undefined ? undefined : num('soak', values.soak, 0, 1);
  const scenarios = (values.scenarios ?? SCENARIO_NAMES.join(','))
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '');
  for (const s of scenarios) {
    if (!isScenarioName(s)) throw new Error(`--scenarios: unknown "${s}" (known: ${SCENARIO_NAMES.join(', ')})`);
  }
  const servers = (values.servers ?? TARGETS.join(','))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const s of servers) {
    if (!isTarget(s)) throw new Error(`--servers: unknown "${s}" (known: ${TARGETS.join(', ')})`);
  }
  if (servers.length === 0) throw new Error('--servers: name at least one server');
  return {
    durationSec: num('duration', values.duration, quick ? 2 : 10, 1),
    warmupSec: num('warmup', values.warmup, quick ? 1 : soakSec !== undefined ? 10 : 3, 1),
    connections: Math.round(num('connections', values.connections, 32, 1)),
    rounds: Math.round(num('rounds', values.rounds, quick ? 1 : 3, 1)),
    scenarios: scenarios as ScenarioName[],
    // In the report's order, whatever order they were named in.
    servers: TARGETS.filter((t) => servers.includes(t)),
    latencyMs: num('latency', values.latency, 20, 0),
    serial: values.serial,
    soakSec,
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    gatewayEnv: Object.fromEntries(
      (values['gateway-env'] ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--gateway-env must look like NAME=value, got "${pair}"`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    ),
    redis: !values['no-redis'],
  };
}

// ---------------------------------------------------------------------------
// The processes
// ---------------------------------------------------------------------------

interface Bench {
  sims: Child;
  /** RSS of each server right after it answered its health check, MB. */
  startRssMb: Partial<Record<Server, number>>;
  npmSimUrl: string;
  axisSimUrl: string;
  servers: Partial<Record<Server, { child: Child; url: string }>>;
  /** The redis-server behind `gateway-redis`, and a connection that reads its INFO. */
  redis: { child: Child; client: Redis } | undefined;
}

/** The benchmark's own servers, transpiled by buildBenchServers. */
const BENCH_SERVER_FILES = [
  'upstream-pools.ts',
  'floor.ts',
  'scenarios.ts',
  'floor-main.ts',
  'naive-schema.ts',
  'reference-yoga.ts',
  'reference-mercurius.ts',
  'reference-main.ts',
];

/**
 * Transpiles the floor and the reference servers to plain JavaScript once, so they run on
 * bare `node` like the gateway's build: no loader thread, no transpiler in their memory. The
 * output sits under node_modules/.cache so their packages resolve from the project. Types
 * are checked by `npm run typecheck`, not here. Returns the output directory.
 */
function buildBenchServers(): string {
  const outDir = join(ROOT, 'node_modules', '.cache', 'gateway-bench-floor');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  for (const file of BENCH_SERVER_FILES) {
    const source = readFileSync(join(ROOT, 'bench', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 },
    });
    writeFileSync(join(outDir, file.replace(/\.ts$/, '.js')), outputText);
  }
  return outDir;
}

async function startBench(
  targets: readonly Target[],
  cpuProfDir: string | undefined,
  gatewayEnv: Record<string, string> = {},
  withRedis = false,
): Promise<Bench> {
  for (const built of ['dist/main.js', 'dist-sim/main.js']) {
    if (!existsSync(join(ROOT, built))) {
      throw new Error(`${built} is missing: run npm run build and npm run build:sim (npm run bench does)`);
    }
  }
  const logDir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const host = '127.0.0.1';
  const [npmPort, axisPort] = await Promise.all([freePort(), freePort()]);
  const npmSimUrl = `http://${host}:${npmPort}`;
  const axisSimUrl = `http://${host}:${axisPort}`;
  const node = process.execPath;
  if (cpuProfDir !== undefined) mkdirSync(cpuProfDir, { recursive: true });
  const nodeArgs = (name: string, script: string, ...args: string[]) =>
    cpuProfDir === undefined
      ? [script, ...args]
      : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${name}.cpuprofile`, script, ...args];

  const sims = await startChild({
    name: 'simulators',
    command: node,
    args: nodeArgs('simulators', 'dist-sim/main.js'),
    cwd: ROOT,
    logDir,
    env: simulatorsEnvironment(host, npmPort, axisPort),
    healthUrls: [`${npmSimUrl}/__sim/health`, `${axisSimUrl}/__sim/health`],
  });
  const upstreamEnv = upstreamEnvironment(npmSimUrl, axisSimUrl);
  const benchDir = targets.some((t) => t !== 'gateway') ? buildBenchServers() : '';
  const servers: Bench['servers'] = {};
  let redis: Bench['redis'];
  let redisEnv: Record<string, string> = {};
  if (withRedis) {
    const started = await startRedis(logDir, ROOT);
    const client = new Redis(started.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    redis = { child: started.child, client };
    redisEnv = { REDIS_URL: started.url, REDIS_KEY_PREFIX: 'bench:' };
  }
  const processes: Server[] = withRedis ? [...targets, 'gateway-redis'] : [...targets];
  for (const target of processes) {
    const port = await freePort();
    const benchEnv = {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: host,
      ...upstreamEnv,
      FLOOR_API_KEY: API_KEY,
      BENCH_SCHEMA_FILE: join(ROOT, 'schema.graphql'),
    };
    const start = {
      gateway: () => ({
        args: nodeArgs('gateway', 'dist/main.js'),
        env: gatewayEnvironment(port, host, upstreamEnv, gatewayEnv),
      }),
      'gateway-redis': () => ({
        args: nodeArgs('gateway-redis', 'dist/main.js'),
        env: gatewayEnvironment(port, host, upstreamEnv, { ...gatewayEnv, ...redisEnv }),
      }),
      floor: () => ({ args: nodeArgs('floor', join(benchDir, 'floor-main.js')), env: benchEnv }),
      mercurius: () => ({
        args: nodeArgs('mercurius', join(benchDir, 'reference-main.js'), 'mercurius'),
        env: benchEnv,
      }),
      yoga: () => ({ args: nodeArgs('yoga', join(benchDir, 'reference-main.js'), 'yoga'), env: benchEnv }),
    }[target]();
    const child = await startChild({
      name: target,
      command: node,
      args: start.args,
      cwd: ROOT,
      logDir,
      env: start.env,
      healthUrls: [`http://${host}:${port}/health`],
    });
    servers[target] = { child, url: `http://${host}:${port}` };
  }
  const startRssMb: Bench['startRssMb'] = {};
  for (const [target, server] of Object.entries(servers) as [Server, { child: Child }][]) {
    startRssMb[target] = rssMb(server.child.pid);
  }
  const pids = processes.map((t) => `${t} pid ${servers[t]!.child.pid}`).join(', ');
  const redisPid = redis === undefined ? '' : `, redis pid ${redis.child.pid}`;
  process.stdout.write(`simulators pid ${sims.pid}, ${pids}${redisPid}; logs in ${logDir}\n`);
  return { sims, startRssMb, npmSimUrl, axisSimUrl, servers, redis };
}

async function control(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await request(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${base}${path} answered ${res.statusCode}: ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

/** Upstream data calls so far, both simulators; the NPM login is left out (once per token lifetime). */
async function dataCalls(bench: Bench): Promise<number> {
  const [npm, axis] = (await Promise.all([
    control(bench.npmSimUrl, 'GET', '/__sim/counts'),
    control(bench.axisSimUrl, 'GET', '/__sim/counts'),
  ])) as Record<string, number>[];
  return (npm?.['total'] ?? 0) - (npm?.['token.post'] ?? 0) + (axis?.['total'] ?? 0);
}

async function setLatency(bench: Bench, ms: number): Promise<void> {
  await Promise.all([
    control(bench.npmSimUrl, 'POST', '/__sim/latency', { ms }),
    control(bench.axisSimUrl, 'POST', '/__sim/latency', { ms }),
  ]);
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

/** Calls and microseconds per command the bench's redis-server has run so far (INFO commandstats). */
async function redisCommands(bench: Bench): Promise<Map<string, { calls: number; usec: number }> | undefined> {
  if (bench.redis === undefined) return undefined;
  const info = await bench.redis.client.info('commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const [, name, calls, usec] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    if (name !== 'info') stats.set(name!, { calls: Number(calls), usec: Number(usec) });
  }
  return stats;
}

/** What changed between two INFO commandstats readings, per request. */
function commandsPerOp(
  before: Map<string, { calls: number; usec: number }>,
  after: Map<string, { calls: number; usec: number }>,
  requests: number,
): { calls: number; usec: number; byCommand: Record<string, number> } {
  let calls = 0;
  let usec = 0;
  const byCommand: Record<string, number> = {};
  for (const [name, now] of after) {
    const was = before.get(name) ?? { calls: 0, usec: 0 };
    if (now.calls === was.calls) continue;
    calls += now.calls - was.calls;
    usec += now.usec - was.usec;
    byCommand[name] = (now.calls - was.calls) / requests;
  }
  return { calls: calls / requests, usec: usec / requests, byCommand };
}

let probes = 0;

/** One request before the run, so a broken setup is reported with its answer, not only as a count. */
async function probe(url: string, scenario: Scenario): Promise<string | undefined> {
  const headers = scenario.idempotencyKey
    ? { ...HEADERS, 'idempotency-key': `bench-probe-${process.pid}-${(probes += 1)}` }
    : HEADERS;
  try {
    const res = await request(`${url}/graphql`, { method: 'POST', headers, body: requestBody(scenario) });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !hasData(text)) return `probe answered ${res.statusCode}: ${text.slice(0, 300)}`;
    return undefined;
  } catch (err) {
    return `probe failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

interface RunSpec {
  scenario: Scenario;
  /** One body per connection instead of the scenario's (bench/load.ts `bodies`). */
  bodies?: readonly string[];
  target: Server;
  round: number;
  latencyMs: number;
  connections: number;
  durationSec: number;
  warmupSec: number;
}

/**
 * Waits until the server has gone quiet: a timed run (the warm-up) cuts off the requests in
 * flight, and the server finishes them afterwards; their calls and CPU must not land in the
 * next measured window. Quiet is three checks in a row, 100 ms apart, with no new upstream
 * call and at most one clock tick of the server's CPU: on a loaded machine a server can spend
 * seconds of CPU on a cut-off request between two of its upstream calls, so calls alone are
 * not enough.
 */
async function quiesce(bench: Bench, pid: number, maxMs = 60_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  const tickMs = 1000 / clockTicksPerSecond();
  let calls = await dataCalls(bench);
  let cpu = cpuMs(pid);
  let stable = 0;
  while (stable < 3 && Date.now() < deadline) {
    await sleep(100);
    const [nowCalls, nowCpu] = [await dataCalls(bench), cpuMs(pid)];
    stable = nowCalls === calls && nowCpu - cpu <= tickMs ? stable + 1 : 0;
    calls = nowCalls;
    cpu = nowCpu;
  }
}

/**
 * Probe, warm up (timed), let the server finish what the warm-up cut off, then measure a
 * window of exactly as many requests as the warm-up's late rate gives in `durationSec`. A counted
 * window cuts nothing off, so every request in it is answered within it: CPU and upstream
 * calls divide by the requests answered with no edge error.
 */
async function measure(bench: Bench, spec: RunSpec): Promise<RunResult> {
  const server = bench.servers[spec.target]!;
  const load = {
    url: `${server.url}/graphql`,
    body: requestBody(spec.scenario),
    headers: HEADERS,
    connections: spec.connections,
    verifyBody: hasData,
    idempotencyKey: spec.scenario.idempotencyKey === true,
    ...(spec.bodies === undefined ? {} : { bodies: spec.bodies }),
  };
  const probeError = await probe(server.url, spec.scenario);
  const warm = await runLoad({ ...load, durationSec: spec.warmupSec });
  await quiesce(bench, server.child.pid);
  // The second half of the warm-up: the first seconds of a cold process are far slower.
  const amount = Math.max(spec.connections, Math.round(Math.max(warm.tailRps, warm.rps) * spec.durationSec));

  const pid = server.child.pid;
  let peak = rssMb(pid);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 250);
  const calls0 = await dataCalls(bench);
  const commands0 = await redisCommands(bench);
  const cpu0 = cpuMs(pid);
  const sim0 = cpuMs(bench.sims.pid);
  const redis0 = bench.redis === undefined ? undefined : cpuMs(bench.redis.child.pid);
  const own0 = process.cpuUsage();
  const result = await runLoad({ ...load, amount });
  const own = process.cpuUsage(own0);
  const cpu1 = cpuMs(pid);
  const sim1 = cpuMs(bench.sims.pid);
  const redis1 = bench.redis === undefined ? undefined : cpuMs(bench.redis.child.pid);
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(pid));
  const calls1 = await dataCalls(bench);
  const commands1 = await redisCommands(bench);

  const n = result.requests;
  const per = (total: number) => (n > 0 ? total / n : Number.NaN);
  const errors = result.non2xx + result.errors + result.mismatches;
  const notes = [
    probeError,
    n === 0 ? 'no request was answered' : undefined,
    result.non2xx > 0 ? `${result.non2xx} non-2xx` : undefined,
    result.errors > 0 ? `${result.errors} connection errors (${result.timeouts} timeouts)` : undefined,
    result.sampleMismatch !== undefined
      ? `${result.mismatches} bodies without data: ${result.sampleMismatch.slice(0, 300)}`
      : undefined,
  ].filter((s): s is string => s !== undefined);
  return {
    scenario: spec.scenario.name,
    target: spec.target,
    round: spec.round,
    latencyMs: spec.latencyMs,
    connections: spec.connections,
    requests: n,
    durationSec: result.durationSec,
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    cpuMsPerOp: per(cpu1 - cpu0),
    simCpuMsPerOp: per(sim1 - sim0),
    loadCpuMsPerOp: per((own.user + own.system) / 1000),
    peakRssMb: peak,
    callsPerOp: per(calls1 - calls0),
    errors: errors + (probeError === undefined && n > 0 ? 0 : 1),
    errorNote: notes.length > 0 ? notes.join('; ') : undefined,
    // Only the runs against the gateway with REDIS_URL: the others leave Redis idle.
    ...(spec.target === 'gateway-redis' && redis0 !== undefined && redis1 !== undefined
      ? { redisCpuMsPerOp: per(redis1 - redis0) }
      : {}),
    ...(spec.target === 'gateway-redis' && commands0 !== undefined && commands1 !== undefined && n > 0
      ? (() => {
          const used = commandsPerOp(commands0, commands1, n);
          return { redisCommandsPerOp: used.calls, redisCommandUsPerOp: used.usec, redisCommands: used.byCommand };
        })()
      : {}),
  };
}

function progress(run: RunResult): void {
  process.stdout.write(
    `  ${`${run.scenario}${run.latencyMs ? ` +${run.latencyMs}ms` : ''}`.padEnd(10)} ${run.target.padEnd(9)} r${run.round}  ` +
      `${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50.toFixed(2).padStart(7)} ms  p99 ${run.p99.toFixed(2).padStart(7)} ms  ` +
      `CPU ${run.cpuMsPerOp.toFixed(3)} ms/req  calls ${run.callsPerOp.toFixed(2)}  RSS ${run.peakRssMb.toFixed(0)} MB` +
      `${run.errors ? `  ERRORS ${run.errors}: ${run.errorNote ?? ''}` : ''}\n`,
  );
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function machineLine(command: string): string {
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  let commit = 'unknown';
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    // results.md is this program's own output: writing it must not make the tree "dirty".
    const changed = git('status', '--porcelain', '--', '.', ':(exclude)bench/results.md') !== '';
    commit = `${git('rev-parse', '--short', 'HEAD')}${changed ? '-dirty' : ''}`;
  } catch {
    // not a git checkout
  }
  return (
    `Node ${process.version} · ${cpuModel ?? 'unknown CPU'} · ${cpus().length} cores · ` +
    `${new Date().toISOString().slice(0, 16)}Z · commit ${commit} · \`${command}\``
  );
}

function commandLine(argv: string[]): string {
  return argv.length === 0 ? 'npm run bench' : `npm run bench -- ${argv.join(' ')}`;
}

function printProfiles(dir: string): void {
  for (const name of ['simulators', ...TARGETS, 'gateway-redis']) {
    const file = join(dir, `${name}.cpuprofile`);
    if (existsSync(file)) process.stdout.write(`\n${summariseFile(file, 15)}\n`);
  }
  process.stdout.write(`\nProfiles in ${dir} (open them in Chrome DevTools or speedscope); results.md not written.\n`);
}

// ---------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------

const phaseTitle = (phase: Phase) =>
  `${phase.latencyMs === 0 ? 'no added latency' : `${phase.latencyMs} ms added to every upstream call`}, ` +
  `${phase.connections === 1 ? 'one request at a time' : `${phase.connections} connections`}`;

/**
 * M1K's bodies: one user per connection, created through the in-memory gateway with no
 * groups, so no two connections' writes share an entity lock. The price of a keyed write is
 * then its own Redis work, not a queue of 32 writers on one user polling one lock.
 */
async function ownUsers(bench: Bench, count: number): Promise<string[]> {
  const url = `${bench.servers.gateway!.url}/graphql`;
  const create = 'mutation Create($input: CreateUserInput!) { createUser(input: $input) { id } }';
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const userName = `bench.m1k.${process.pid}.${i}`;
    const res = await request(url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        query: create,
        variables: { input: { userName, email: `${userName}@example.com`, firstName: 'Bench', lastName: `M1K ${i}` } },
      }),
    });
    const text = await res.body.text();
    const id = (JSON.parse(text) as { data?: { createUser?: { id?: string } } }).data?.createUser?.id;
    if (id === undefined) throw new Error(`could not create M1K's user ${userName}: ${text.slice(0, 300)}`);
    bodies.push(
      JSON.stringify({
        query: SCENARIOS.M1K.query,
        operationName: 'M1K',
        variables: { ...SCENARIOS.M1K.variables, id },
      }),
    );
  }
  return bodies;
}

/**
 * The Price of Redis: the ops priced with REDIS_URL set and unset. Q1 is the dashboard read
 * (the shared rate limit is its only Redis work); M1K is the keyed mutation (rate limit, the
 * Idempotency-Key claim and its stored answer, the fleet's entity lock).
 */
function redisPricedOps(settings: Settings): ScenarioName[] {
  if (!settings.redis || !settings.servers.includes('gateway')) return [];
  return [
    ...(settings.scenarios.includes('Q1') ? (['Q1'] as const) : []),
    ...(settings.scenarios.includes('M1') ? (['M1K'] as const) : []),
  ];
}

async function benchmark(settings: Settings, argv: string[]): Promise<void> {
  const targets = settings.servers;
  const priced = redisPricedOps(settings);
  const bench = await startBench(targets, settings.cpuProfDir, settings.gatewayEnv, priced.length > 0);
  const runs: RunResult[] = [];
  const loaded: Phase = { latencyMs: 0, connections: settings.connections };
  const latency: Phase | undefined =
    settings.latencyMs > 0 ? { latencyMs: settings.latencyMs, connections: settings.connections } : undefined;
  const serial: Phase | undefined =
    settings.serial && settings.latencyMs > 0 ? { latencyMs: settings.latencyMs, connections: 1 } : undefined;
  const phases = [loaded, latency, serial].filter((p): p is Phase => p !== undefined);
  const total =
    phases.length * settings.rounds * settings.scenarios.length * targets.length + settings.rounds * priced.length * 2;
  const seconds = total * (settings.durationSec + settings.warmupSec + 1);
  process.stdout.write(
    `${total} runs of ${settings.warmupSec} s warm-up + ${settings.durationSec} s measured: about ${Math.ceil(seconds / 60)} min\n`,
  );

  for (const phase of phases) {
    await setLatency(bench, phase.latencyMs);
    process.stdout.write(`\n${phaseTitle(phase)}\n`);
    for (let round = 1; round <= settings.rounds; round++) {
      for (const name of settings.scenarios) {
        // Rotate who goes first, so no server always runs on the warmer (or busier) machine.
        const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
        for (const target of order) {
          const run = await measure(bench, {
            scenario: SCENARIOS[name],
            target,
            round,
            latencyMs: phase.latencyMs,
            connections: phase.connections,
            durationSec: settings.durationSec,
            warmupSec: settings.warmupSec,
          });
          runs.push(run);
          progress(run);
        }
      }
    }
  }
  await setLatency(bench, 0);
  // Beside each other, in the same conditions: the gateway without and with REDIS_URL.
  const pricing: RunResult[] = [];
  if (priced.length > 0) {
    process.stdout.write(`\nPrice of Redis: ${phaseTitle(loaded)}, REDIS_URL unset and set\n`);
    const pair: Server[] = ['gateway', 'gateway-redis'];
    const bodies = priced.includes('M1K') ? await ownUsers(bench, loaded.connections) : undefined;
    // The in-memory gateway has run every op already; the other process is cold (the first
    // seconds of a process are far slower): it gets as much unmeasured work first.
    const redisUrl = `${bench.servers['gateway-redis']!.url}/graphql`;
    for (const name of priced) {
      await runLoad({
        url: redisUrl,
        body: requestBody(SCENARIOS[name]),
        headers: HEADERS,
        connections: loaded.connections,
        durationSec: settings.rounds * (settings.warmupSec + settings.durationSec),
        idempotencyKey: SCENARIOS[name].idempotencyKey === true,
        ...(name === 'M1K' && bodies !== undefined ? { bodies } : {}),
      });
    }
    await quiesce(bench, bench.servers['gateway-redis']!.child.pid);
    for (let round = 1; round <= settings.rounds; round++) {
      for (const name of priced) {
        for (const target of round % 2 === 1 ? pair : [...pair].reverse()) {
          const run = await measure(bench, {
            scenario: SCENARIOS[name],
            ...(name === 'M1K' && bodies !== undefined ? { bodies } : {}),
            target,
            round,
            latencyMs: 0,
            connections: loaded.connections,
            durationSec: settings.durationSec,
            warmupSec: settings.warmupSec,
          });
          pricing.push(run);
          progress(run);
        }
      }
    }
  }
  await bench.redis?.client.quit();
  const peaks: Partial<Record<Target, number>> = {};
  for (const target of targets) peaks[target] = peakRssMb(bench.servers[target]!.child.pid);
  await stopAll();
  if (settings.cpuProfDir !== undefined) {
    printProfiles(settings.cpuProfDir);
    return;
  }

  const summaries = summarise(runs);
  const checks = checkTargets(summaries, { loaded, latency, serial }, peaks);
  const priceSummaries = summarise(pricing);
  const notes = [
    ...new Set(
      [...summaries, ...priceSummaries].flatMap((s) => s.errorNotes.map((n) => `- ${s.scenario} ${s.target}: ${n}`)),
    ),
  ];
  const roundsNote = settings.rounds === 1 ? '1 round' : `median of ${settings.rounds} rounds`;
  const mb = (record: Partial<Record<Target, number>>) =>
    targets.map((t) => `${t} ${record[t]?.toFixed(1) ?? '—'} MB`).join(', ');
  const gatewayExtra = Object.entries(settings.gatewayEnv).map(([k, v]) => `${k}=${v}`);
  const markdown = [
    '# Benchmark results',
    '',
    machineLine(commandLine(argv)),
    '',
    `Settings: ${settings.connections} connections, ${settings.warmupSec} s warm-up + ${settings.durationSec} s measured per run, ${roundsNote}, ` +
      `the servers interleaved (${targets.join(', ')}; who goes first rotates each round), one simulator process for all. ` +
      'The gateway runs its production build in the default configuration (`NODE_ENV=production`, info logs, metrics, API-key auth) ' +
      `with the rate limit on at a budget no run reaches (\`RATE_LIMIT_RPS=1000000\`)${gatewayExtra.length > 0 ? ` and ${gatewayExtra.map((e) => `\`${e}\``).join(', ')}` : ''}. ` +
      "CPU per request is the server process's user+system CPU over the measured window divided by the requests it answered. " +
      `RSS right after start: ${mb(bench.startRssMb)}; peak over the whole run (VmHWM): ${mb(peaks)}.`,
    '',
    'The machine has 2 cores shared with the simulators, the load generator and, during a run, whatever else runs on it: ' +
      'throughput and latency move with that, CPU per request much less. Compare ratios measured in the same run.',
    '',
    '## Where it stands',
    '',
    standingTable(summaries, { loaded, latency }, peaks, targets),
    '',
    '## Targets (issue 14)',
    '',
    targetsTable(checks, 'target'),
    '',
    '## Other checks',
    '',
    targetsTable(checks, 'check'),
    '',
    ...phases.flatMap((phase) => [
      `## Every op, ${phaseTitle(phase)}`,
      '',
      throughputTable(summaries, settings.scenarios, phase, targets),
      '',
    ]),
    ...(priced.length > 0 ? redisPriceSection(priceSummaries, priced, loaded, roundsNote) : []),
    ...(notes.length > 0 ? ['## Errors', '', ...notes, ''] : []),
    '## Every run',
    '',
    'Sims and load gen CPU show what else competed for the two cores during the window.',
    '',
    detailTable([...runs, ...pricing]),
    '',
  ].join('\n');
  writeFileSync(RESULTS, markdown);
  process.stdout.write(`\n${markdown}\nWritten to ${RESULTS}\n`);
}

function redisPriceSection(
  summaries: ReturnType<typeof summarise>,
  priced: readonly ScenarioName[],
  phase: Phase,
  roundsNote: string,
): string[] {
  return [
    '## Price of Redis',
    '',
    `The gateway twice, in the same run: REDIS_URL unset (the in-memory stores) and set (a redis-server of the bench's own on loopback, ` +
      `\`--save '' --appendonly no\`), ${phaseTitle(phase)}, ${roundsNote}, the two interleaved. ` +
      'Q1 is the dashboard read: with Redis its only shared state is the rate-limit counter. ' +
      `M1K is ${SCENARIOS.M1K.title.replace(/^keyed mutation: /, '')}; with Redis the rate limit, the claim, the stored answer ` +
      'and the entity lock of the read-merge-write are Redis round trips. The difference is what the gateway process spends on ' +
      "Redis per request (the client, the scripts' replies, the extra awaits); the redis-server's own CPU is beside it, and their sum " +
      'is the price of Redis per request. Loopback Redis: a networked one adds its round trips to latency, not to CPU.',
    '',
    redisPriceTable(redisPrices(summaries, priced)),
    '',
  ];
}

async function soak(settings: Settings, argv: string[]): Promise<void> {
  const seconds = settings.soakSec!;
  const bench = await startBench(['gateway'], settings.cpuProfDir, settings.gatewayEnv);
  const gateway = bench.servers.gateway!;
  const scenario = SCENARIOS.Q1;
  const load = {
    url: `${gateway.url}/graphql`,
    body: requestBody(scenario),
    headers: HEADERS,
    connections: settings.connections,
    verifyBody: hasData,
  };
  const probeError = await probe(gateway.url, scenario);
  if (probeError !== undefined) process.stdout.write(`WARNING: ${probeError}\n`);
  process.stdout.write(
    `Soak: ${settings.warmupSec} s warm-up, then Q1 for ${seconds} s at ${settings.connections} connections\n`,
  );
  if (settings.warmupSec > 0) await runLoad({ ...load, durationSec: settings.warmupSec });

  const pid = gateway.child.pid;
  const started = Date.now();
  const times: number[] = [];
  const rss: number[] = [];
  const sample = () => {
    times.push((Date.now() - started) / 60_000);
    rss.push(rssMb(pid));
  };
  sample();
  const sampler = setInterval(sample, 1_000);
  const cpu0 = cpuMs(pid);
  const result = await runLoad({ ...load, durationSec: seconds });
  const cpu1 = cpuMs(pid);
  clearInterval(sampler);
  sample();
  const peak = peakRssMb(pid);
  await stopAll();
  if (settings.cpuProfDir !== undefined) {
    printProfiles(settings.cpuProfDir);
    return;
  }

  const { slope } = leastSquares(times, rss);
  const errors = result.non2xx + result.errors + result.mismatches;
  const section = [
    '',
    `## Soak: Q1 against the gateway for ${seconds} s at ${settings.connections} connections`,
    '',
    machineLine(commandLine(argv)),
    '',
    `- RSS slope (least squares over ${rss.length} samples, one per second after a ${settings.warmupSec} s warm-up): **${slope.toFixed(2)} MB/min**`,
    `- RSS at start ${rss[0]!.toFixed(1)} MB, at end ${rss[rss.length - 1]!.toFixed(1)} MB, highest sampled ${Math.max(...rss).toFixed(1)} MB, VmHWM ${peak.toFixed(1)} MB`,
    `- ${result.requests} requests, ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, CPU ${((cpu1 - cpu0) / Math.max(1, result.requests)).toFixed(3)} ms/req`,
    `- errors: ${errors}${errors > 0 ? ` (${result.non2xx} non-2xx, ${result.errors} connection errors, ${result.mismatches} without data)` : ''}`,
    '',
  ].join('\n');
  appendFileSync(RESULTS, existsSync(RESULTS) ? section : `# Benchmark results\n${section}`);
  process.stdout.write(`${section}\nAppended to ${RESULTS}\n`);
}

// ---------------------------------------------------------------------------

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write('\ninterrupted: stopping the load and every child process\n');
  stopLoad();
  void stopAll().finally(() => process.exit(130));
});
process.on('SIGTERM', () => {
  stopLoad();
  void stopAll().finally(() => process.exit(143));
});

const argv = process.argv.slice(2);
try {
  const settings = parseSettings(argv);
  if (settings.soakSec !== undefined) await soak(settings, argv);
  else await benchmark(settings, argv);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
}
