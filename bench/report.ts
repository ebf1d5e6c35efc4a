/**
 * Turns measured runs into the markdown the benchmark prints and writes to bench/results.md:
 * medians across rounds, each server's ratios to the floor, and the issue's targets with a
 * verdict for the gateway and the reference servers' figures beside it.
 */
import type { ScenarioName } from './scenarios.js';
import { median } from './stats.js';

/** Every server the benchmark can run, in the order the report lists them. */
export const TARGETS = ['floor', 'mercurius', 'yoga', 'gateway'] as const;
export type Target = (typeof TARGETS)[number];
/** The servers measured against the floor that are not the gateway. */
const REFERENCES = ['mercurius', 'yoga'] as const;
type Reference = (typeof REFERENCES)[number];

export const TARGET_LABELS: Readonly<Record<Target, string>> = {
  floor: 'floor: node:http + undici, no GraphQL',
  mercurius: 'fastify + mercurius with graphql-jit, naive resolvers',
  yoga: 'graphql-yoga, naive resolvers',
  gateway: 'this gateway',
};

/** A server process of the benchmark: a target, or the gateway with REDIS_URL set (the Price of Redis runs). */
export type Server = Target | 'gateway-redis';

export function isTarget(value: string): value is Target {
  return (TARGETS as readonly string[]).includes(value);
}

/** One set of runs: the added upstream latency and the connections of the load. */
export interface Phase {
  latencyMs: number;
  connections: number;
}

/** One measured window of one scenario against one server. */
export interface RunResult {
  scenario: ScenarioName;
  target: Server;
  round: number;
  /** Added upstream latency in ms (0 or e.g. 20). */
  latencyMs: number;
  connections: number;
  requests: number;
  /** Measured window, from the start to the last response. */
  durationSec: number;
  rps: number;
  p50: number;
  p99: number;
  /** Server user+sys CPU over the window / requests, ms. */
  cpuMsPerOp: number;
  /** Simulator process CPU / requests, ms. */
  simCpuMsPerOp: number;
  /** The benchmark's own process (autocannon) CPU / requests, ms. */
  loadCpuMsPerOp: number;
  /** Highest VmRSS sampled during the window, MB. */
  peakRssMb: number;
  /** Upstream data calls (NPM login excluded) / requests. */
  callsPerOp: number;
  /** non-2xx + connection errors + timeouts + bodies with GraphQL errors. */
  errors: number;
  /** What went wrong, when something did. */
  errorNote: string | undefined;
  /** The bench's redis-server CPU over the window / requests, ms (when it runs one). */
  redisCpuMsPerOp?: number;
  /** Redis commands processed over the window / requests (INFO commandstats). */
  redisCommandsPerOp?: number;
  /** Microseconds Redis spent executing them / requests (INFO commandstats `usec`). */
  redisCommandUsPerOp?: number;
  /** Calls per request of each command (e.g. `{ evalsha: 1, get: 2 }`). */
  redisCommands?: Record<string, number>;
}

export interface Summary {
  scenario: ScenarioName;
  target: Server;
  latencyMs: number;
  connections: number;
  rounds: number;
  rps: number;
  p50: number;
  p99: number;
  cpuMsPerOp: number;
  simCpuMsPerOp: number;
  loadCpuMsPerOp: number;
  peakRssMb: number;
  callsPerOp: number;
  errors: number;
  errorNotes: string[];
  redisCpuMsPerOp?: number;
  redisCommandsPerOp?: number;
  redisCommandUsPerOp?: number;
  /** Of the first round that has them. */
  redisCommands?: Record<string, number>;
}

export function summarise(runs: readonly RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.latencyMs}|${run.connections}|${run.scenario}|${run.target}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(run);
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const med = (pick: (r: RunResult) => number) => median(list.map(pick));
    const medOf = (pick: (r: RunResult) => number | undefined) => {
      const values = list.map(pick).filter((v): v is number => v !== undefined);
      return values.length === 0 ? undefined : median(values);
    };
    const redisCpu = medOf((r) => r.redisCpuMsPerOp);
    const redisCommands = medOf((r) => r.redisCommandsPerOp);
    const redisCommandUs = medOf((r) => r.redisCommandUsPerOp);
    const byCommand = list.find((r) => r.redisCommands !== undefined)?.redisCommands;
    return {
      scenario: first.scenario,
      target: first.target,
      latencyMs: first.latencyMs,
      connections: first.connections,
      rounds: list.length,
      rps: med((r) => r.rps),
      p50: med((r) => r.p50),
      p99: med((r) => r.p99),
      cpuMsPerOp: med((r) => r.cpuMsPerOp),
      simCpuMsPerOp: med((r) => r.simCpuMsPerOp),
      loadCpuMsPerOp: med((r) => r.loadCpuMsPerOp),
      // A peak is a maximum, not a median.
      peakRssMb: Math.max(...list.map((r) => r.peakRssMb)),
      callsPerOp: med((r) => r.callsPerOp),
      errors: list.reduce((n, r) => n + r.errors, 0),
      errorNotes: [...new Set(list.flatMap((r) => (r.errorNote === undefined ? [] : [r.errorNote])))],
      ...(redisCpu === undefined ? {} : { redisCpuMsPerOp: redisCpu }),
      ...(redisCommands === undefined ? {} : { redisCommandsPerOp: redisCommands }),
      ...(redisCommandUs === undefined ? {} : { redisCommandUsPerOp: redisCommandUs }),
      ...(byCommand === undefined ? {} : { redisCommands: byCommand }),
    };
  });
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

const fixed = (digits: number) => (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
const f0 = fixed(0);
const f1 = fixed(1);
const f2 = fixed(2);
const f3 = fixed(3);
const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;
const times = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(2)}×`);

/** A markdown table with padded columns, readable in a terminal and valid markdown. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function find(summaries: readonly Summary[], phase: Phase | undefined, scenario: ScenarioName, target: Target) {
  if (phase === undefined) return undefined;
  return summaries.find(
    (s) =>
      s.latencyMs === phase.latencyMs &&
      s.connections === phase.connections &&
      s.scenario === scenario &&
      s.target === target,
  );
}

/** `1228 (0.34×)`: a figure and its ratio to the floor's, or the figure alone for the floor. */
function withRatio(value: number | undefined, floor: number | undefined, format: (n: number | undefined) => string) {
  const r = ratio(value, floor);
  return r === undefined || value === floor ? format(value) : `${format(value)} (${times(r)})`;
}

/** Every server's figures for each op of one phase, with ratios to the floor. */
export function throughputTable(
  summaries: readonly Summary[],
  scenarios: readonly ScenarioName[],
  phase: Phase,
  targets: readonly Target[] = TARGETS,
): string {
  const rows: string[][] = [];
  for (const name of scenarios) {
    const fl = find(summaries, phase, name, 'floor');
    for (const target of targets) {
      const s = find(summaries, phase, name, target);
      if (s === undefined) continue;
      const isFloor = target === 'floor';
      rows.push([
        name,
        target,
        isFloor ? f0(s.rps) : withRatio(s.rps, fl?.rps, f0),
        f2(s.p50),
        isFloor ? f2(s.p99) : withRatio(s.p99, fl?.p99, f2),
        isFloor ? f3(s.cpuMsPerOp) : withRatio(s.cpuMsPerOp, fl?.cpuMsPerOp, f3),
        f1(s.peakRssMb),
        f2(s.callsPerOp),
        String(s.errors),
      ]);
    }
  }
  return table(
    [
      'op',
      'server',
      'req/s (× floor)',
      'p50 ms',
      'p99 ms (× floor)',
      'CPU ms/req (× floor)',
      'peak RSS MB',
      'upstream calls/req',
      'errors',
    ],
    rows,
    [false, false, true, true, true, true, true, true, true],
  );
}

/**
 * The issue's "Where it stands" table: per server, Q1 and Q2 CPU per request and Q1
 * throughput against the floor, the peak RSS over the whole run, and Q1's p50/p99 with
 * upstream latency under load.
 */
export function standingTable(
  summaries: readonly Summary[],
  phases: { loaded: Phase; latency: Phase | undefined },
  peakRssMb: Partial<Record<Target, number>>,
  targets: readonly Target[] = TARGETS,
): string {
  const us = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? '—' : (ms * 1000).toFixed(0));
  const floorQ1 = find(summaries, phases.loaded, 'Q1', 'floor');
  const floorQ2 = find(summaries, phases.loaded, 'Q2', 'floor');
  const rows = targets.map((target) => {
    const q1 = find(summaries, phases.loaded, 'Q1', target);
    const q2 = find(summaries, phases.loaded, 'Q2', target);
    const slow = find(summaries, phases.latency, 'Q1', target);
    const cpu = (s: Summary | undefined, fl: Summary | undefined) => {
      const r = ratio(s?.cpuMsPerOp, fl?.cpuMsPerOp);
      return s === undefined ? '—' : `${us(s.cpuMsPerOp)} (${r === undefined ? '—' : r.toFixed(2)})`;
    };
    const rps = ratio(q1?.rps, floorQ1?.rps);
    return [
      TARGET_LABELS[target],
      cpu(q1, floorQ1),
      cpu(q2, floorQ2),
      q1 === undefined
        ? '—'
        : `${Math.round(q1.rps).toLocaleString('en-US')} (${rps === undefined ? '—' : rps.toFixed(2)})`,
      f0(peakRssMb[target]),
      slow === undefined ? '—' : `${f0(slow.p50)} / ${f0(slow.p99)}`,
    ];
  });
  const latency =
    phases.latency === undefined
      ? '+latency (not run)'
      : `Q1 +${phases.latency.latencyMs} ms upstream, c=${phases.latency.connections}: p50 / p99 ms`;
  return table(
    ['server', 'Q1 CPU µs/req (× floor)', 'Q2 CPU µs/req (× floor)', 'Q1 req/s (× floor)', 'peak RSS MiB', latency],
    rows,
    [false, true, true, true, true, true],
  );
}

export interface Verdict {
  measured: string;
  /** undefined: not measured in this run. */
  ok: boolean | undefined;
}

export interface TargetCheck extends Verdict {
  /** `target`: one of the issue's targets; `check`: a sanity check of the run itself. */
  kind: 'target' | 'check';
  target: string;
  limit: string;
  /** The same measure for the reference servers, beside the gateway's. */
  references: Record<Reference, Verdict>;
}

export interface TargetPhases {
  /** The throughput runs (no added latency). */
  loaded: Phase;
  /** Upstream latency at the same connections, for the p99 target; undefined when not run. */
  latency: Phase | undefined;
  /** Upstream latency one request at a time (--serial); undefined when not run. */
  serial?: Phase | undefined;
}

const NOT_MEASURED: Verdict = { measured: '—', ok: undefined };

export function checkTargets(
  summaries: readonly Summary[],
  phases: TargetPhases,
  peakRssMb: Partial<Record<Target, number>>,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (kind: TargetCheck['kind'], target: string, limit: string, judge: (t: Target) => Verdict): void => {
    const references = Object.fromEntries(REFERENCES.map((r) => [r, judge(r)])) as Record<Reference, Verdict>;
    checks.push({ kind, target, limit, ...judge('gateway'), references });
  };
  const ratioCheck = (
    label: string,
    phase: Phase | undefined,
    name: ScenarioName,
    pick: (s: Summary) => number,
    limit: number,
    atMost: boolean,
  ): void =>
    add('target', label, `${atMost ? '≤' : '≥'} ${limit.toFixed(2)}×`, (t) => {
      const s = find(summaries, phase, name, t);
      const fl = find(summaries, phase, name, 'floor');
      const r = s !== undefined && fl !== undefined ? ratio(pick(s), pick(fl)) : undefined;
      if (r === undefined) return NOT_MEASURED;
      return { measured: times(r), ok: atMost ? r <= limit : r >= limit };
    });

  ratioCheck('Q1 CPU/request vs floor', phases.loaded, 'Q1', (s) => s.cpuMsPerOp, 1.5, true);
  ratioCheck('Q2 CPU/request vs floor', phases.loaded, 'Q2', (s) => s.cpuMsPerOp, 2, true);
  ratioCheck('Q1 throughput vs floor', phases.loaded, 'Q1', (s) => s.rps, 0.85, false);
  add('target', 'Peak RSS (VmHWM over the whole run)', '≤ 150 MiB', (t) => {
    const peak = peakRssMb[t];
    return peak === undefined ? NOT_MEASURED : { measured: `${f1(peak)} MiB`, ok: peak <= 150 };
  });
  ratioCheck(
    phases.latency === undefined
      ? 'Q1 p99 with upstream latency under load vs floor p99'
      : `Q1 p99, +${phases.latency.latencyMs} ms upstream, ${phases.latency.connections} connections, vs floor p99`,
    phases.latency,
    'Q1',
    (s) => s.p99,
    1.25,
    true,
  );

  for (const [name, calls] of [
    ['Q1', 3],
    ['Q2', 1],
  ] as const) {
    add('check', `Upstream calls per ${name}`, `= ${calls}`, (t) => {
      const s = find(summaries, phases.loaded, name, t) ?? find(summaries, phases.latency, name, t);
      // Requests cut off when a window ends still reach the upstreams: allow that sliver.
      return s === undefined ? NOT_MEASURED : { measured: f2(s.callsPerOp), ok: Math.abs(s.callsPerOp - calls) < 0.05 };
    });
  }

  if (phases.serial !== undefined) {
    const serial = phases.serial;
    const floorQ1 = find(summaries, serial, 'Q1', 'floor');
    for (const [name, factor] of [
      ['Q1', 1],
      ['Q3', 2],
    ] as const) {
      const limit = floorQ1 === undefined ? undefined : factor * floorQ1.p50 + 2;
      add(
        'check',
        `${serial.latencyMs} ms upstream latency, 1 at a time: ${name} p50`,
        limit === undefined
          ? `≤ ${factor === 1 ? '' : `${factor} × `}floor Q1 p50 + 2 ms`
          : `≤ ${factor === 1 ? '' : `${factor} × `}${f2(floorQ1!.p50)} + 2 = ${f2(limit)} ms`,
        (t) => {
          const s = find(summaries, serial, name, t);
          return s === undefined || limit === undefined
            ? NOT_MEASURED
            : { measured: `${f2(s.p50)} ms`, ok: s.p50 <= limit };
        },
      );
    }
  }

  add('check', 'Every response 2xx with data and no GraphQL errors', '0 failed', (t) => {
    const own = summaries.filter((s) => s.target === t);
    if (own.length === 0) return NOT_MEASURED;
    const errors = own.reduce((n, s) => n + s.errors, 0);
    return { measured: `${errors} failed`, ok: errors === 0 };
  });
  return checks;
}

const mark = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '✅' : '❌');

/** The checks of one kind: the gateway's figure and verdict, the reference servers' beside. */
export function targetsTable(checks: readonly TargetCheck[], kind: TargetCheck['kind'] = 'target'): string {
  const beside = (v: Verdict) => (v.ok === undefined ? v.measured : `${v.measured} ${v.ok ? '✅' : '❌'}`);
  return table(
    ['target', 'limit', 'this gateway', '', 'mercurius + jit', 'naive yoga'],
    checks
      .filter((c) => c.kind === kind)
      .map((c) => [
        c.target,
        c.limit,
        c.measured,
        mark(c.ok),
        beside(c.references.mercurius),
        beside(c.references.yoga),
      ]),
  );
}

/** One op of the Price of Redis: the gateway without and with REDIS_URL, from the same run. */
export interface RedisPrice {
  scenario: ScenarioName;
  /** Gateway CPU per request, µs: REDIS_URL unset (in-memory stores) and set. */
  memoryUs: number | undefined;
  redisUs: number | undefined;
  /** redisUs - memoryUs: what the gateway process itself spends on Redis per request. */
  gatewayDeltaUs: number | undefined;
  /** The redis-server's own CPU per request, µs. */
  redisServerUs: number | undefined;
  /** Gateway difference + redis-server: the fleet's CPU price of Redis per request. */
  totalUs: number | undefined;
  commandsPerOp: number | undefined;
  /** Time Redis spent executing them (commandstats), µs per request. */
  commandUs: number | undefined;
  /** e.g. `evalsha 1.00, get 2.00`. */
  commands: string;
  memoryRps: number | undefined;
  redisRps: number | undefined;
  errors: number;
}

export function redisPrices(summaries: readonly Summary[], scenarios: readonly ScenarioName[]): RedisPrice[] {
  return scenarios.map((scenario) => {
    const pick = (target: Server) => summaries.find((s) => s.scenario === scenario && s.target === target);
    const memory = pick('gateway');
    const redis = pick('gateway-redis');
    const us = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? undefined : ms * 1000);
    const memoryUs = us(memory?.cpuMsPerOp);
    const redisUs = us(redis?.cpuMsPerOp);
    const gatewayDeltaUs = memoryUs === undefined || redisUs === undefined ? undefined : redisUs - memoryUs;
    const redisServerUs = us(redis?.redisCpuMsPerOp);
    return {
      scenario,
      memoryUs,
      redisUs,
      gatewayDeltaUs,
      redisServerUs,
      totalUs: gatewayDeltaUs === undefined || redisServerUs === undefined ? undefined : gatewayDeltaUs + redisServerUs,
      commandsPerOp: redis?.redisCommandsPerOp,
      commandUs: redis?.redisCommandUsPerOp,
      commands: Object.entries(redis?.redisCommands ?? {})
        .sort(([, a], [, b]) => b - a)
        .map(([name, n]) => `${name} ${n.toFixed(2)}`)
        .join(', '),
      memoryRps: memory?.rps,
      redisRps: redis?.rps,
      errors: (memory?.errors ?? 0) + (redis?.errors ?? 0),
    };
  });
}

/** The "Price of Redis" table: CPU µs per request without and with REDIS_URL, and the difference. */
export function redisPriceTable(prices: readonly RedisPrice[]): string {
  const signed = (n: number | undefined) => (n === undefined ? '—' : `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(0)}`);
  const pct = (delta: number | undefined, base: number | undefined) =>
    delta === undefined || base === undefined || base === 0 ? '' : ` (${signed((delta / base) * 100)}%)`;
  return table(
    [
      'op',
      'gateway CPU µs/req, REDIS_URL unset',
      'set',
      'difference µs/req',
      'redis-server CPU µs/req',
      'price of Redis µs/req',
      'Redis commands/req',
      'in Redis µs/req',
      'req/s unset → set',
      'errors',
      'commands per request',
    ],
    prices.map((p) => [
      p.scenario,
      f0(p.memoryUs),
      f0(p.redisUs),
      `${signed(p.gatewayDeltaUs)}${pct(p.gatewayDeltaUs, p.memoryUs)}`,
      f0(p.redisServerUs),
      signed(p.totalUs),
      f2(p.commandsPerOp),
      f1(p.commandUs),
      `${f0(p.memoryRps)} → ${f0(p.redisRps)}`,
      String(p.errors),
      p.commands === '' ? '—' : p.commands,
    ]),
    [false, true, true, true, true, true, true, true, true, true, false],
  );
}

export function detailTable(runs: readonly RunResult[]): string {
  const rows = runs.map((r) => [
    r.latencyMs === 0 ? r.scenario : `${r.scenario} +${r.latencyMs} ms`,
    r.target,
    String(r.round),
    String(r.connections),
    String(r.requests),
    f1(r.durationSec),
    f0(r.rps),
    f2(r.p50),
    f2(r.p99),
    f3(r.cpuMsPerOp),
    f3(r.simCpuMsPerOp),
    f3(r.loadCpuMsPerOp),
    f1(r.peakRssMb),
    f2(r.callsPerOp),
    String(r.errors),
  ]);
  return table(
    [
      'op',
      'server',
      'round',
      'conns',
      'requests',
      's',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU ms/req',
      'sims CPU ms/req',
      'load gen CPU ms/req',
      'peak RSS MB',
      'calls/req',
      'errors',
    ],
    rows,
    [false, false, true, true, true, true, true, true, true, true, true, true, true, true, true],
  );
}
