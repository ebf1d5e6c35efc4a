/**
 * Turns measured runs into the markdown the benchmark prints and writes to bench/results.md:
 * medians across rounds, gateway/floor ratios, and the issue's targets with a verdict.
 */
import type { ScenarioName } from './scenarios.js';
import { median } from './stats.js';

export type Target = 'gateway' | 'floor';

/** One measured window of one scenario against one server. */
export interface RunResult {
  scenario: ScenarioName;
  target: Target;
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
  /** Server (gateway or floor) user+sys CPU over the window / requests, ms. */
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
}

export interface Summary {
  scenario: ScenarioName;
  target: Target;
  latencyMs: number;
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
}

export function summarise(runs: readonly RunResult[]): Summary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.latencyMs}|${run.scenario}|${run.target}`;
    let list = groups.get(key);
    if (list === undefined) groups.set(key, (list = []));
    list.push(run);
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!;
    const med = (pick: (r: RunResult) => number) => median(list.map(pick));
    return {
      scenario: first.scenario,
      target: first.target,
      latencyMs: first.latencyMs,
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

function find(summaries: readonly Summary[], latencyMs: number, scenario: ScenarioName, target: Target) {
  return summaries.find((s) => s.latencyMs === latencyMs && s.scenario === scenario && s.target === target);
}

export function throughputTable(summaries: readonly Summary[], scenarios: readonly ScenarioName[]): string {
  const rows: string[][] = [];
  for (const name of scenarios) {
    const gw = find(summaries, 0, name, 'gateway');
    const fl = find(summaries, 0, name, 'floor');
    for (const s of [gw, fl]) {
      if (s === undefined) continue;
      rows.push([
        name,
        s.target,
        f0(s.rps),
        f2(s.p50),
        f2(s.p99),
        f3(s.cpuMsPerOp),
        f1(s.peakRssMb),
        f2(s.callsPerOp),
        String(s.errors),
      ]);
    }
    if (gw !== undefined && fl !== undefined) {
      rows.push([
        name,
        '**gateway/floor**',
        times(ratio(gw.rps, fl.rps)),
        times(ratio(gw.p50, fl.p50)),
        times(ratio(gw.p99, fl.p99)),
        times(ratio(gw.cpuMsPerOp, fl.cpuMsPerOp)),
        times(ratio(gw.peakRssMb, fl.peakRssMb)),
        times(ratio(gw.callsPerOp, fl.callsPerOp)),
        '',
      ]);
    }
  }
  return table(
    ['op', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU ms/req', 'peak RSS MB', 'upstream calls/req', 'errors'],
    rows,
    [false, false, true, true, true, true, true, true, true],
  );
}

export function latencyTable(
  summaries: readonly Summary[],
  scenarios: readonly ScenarioName[],
  latencyMs: number,
): string {
  const rows: string[][] = [];
  for (const name of scenarios) {
    const gw = find(summaries, latencyMs, name, 'gateway');
    const fl = find(summaries, latencyMs, name, 'floor');
    if (gw === undefined && fl === undefined) continue;
    rows.push([
      name,
      f2(gw?.p50),
      f2(fl?.p50),
      gw !== undefined && fl !== undefined ? `${gw.p50 - fl.p50 >= 0 ? '+' : ''}${f2(gw.p50 - fl.p50)}` : '—',
      f2(gw?.p99),
      f2(fl?.p99),
      f0(gw?.rps),
      f0(fl?.rps),
      f3(gw?.cpuMsPerOp),
      f3(fl?.cpuMsPerOp),
      String((gw?.errors ?? 0) + (fl?.errors ?? 0)),
    ]);
  }
  return table(
    [
      'op',
      'gateway p50 ms',
      'floor p50 ms',
      'Δ p50 ms',
      'gateway p99 ms',
      'floor p99 ms',
      'gateway req/s',
      'floor req/s',
      'gateway CPU ms/req',
      'floor CPU ms/req',
      'errors',
    ],
    rows,
    [false, true, true, true, true, true, true, true, true, true, true],
  );
}

export interface TargetCheck {
  target: string;
  measured: string;
  limit: string;
  /** undefined: not measured in this run. */
  ok: boolean | undefined;
}

export function checkTargets(
  summaries: readonly Summary[],
  latencyMs: number,
  gatewayPeakRssMb: number | undefined,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const pair = (lat: number, name: ScenarioName) => ({
    gw: find(summaries, lat, name, 'gateway'),
    fl: find(summaries, lat, name, 'floor'),
  });
  const ratioCheck = (
    label: string,
    name: ScenarioName,
    pick: (s: Summary) => number,
    limit: number,
    atMost: boolean,
  ): void => {
    const { gw, fl } = pair(0, name);
    const r = gw !== undefined && fl !== undefined ? ratio(pick(gw), pick(fl)) : undefined;
    checks.push({
      target: label,
      measured: times(r),
      limit: `${atMost ? '≤' : '≥'} ${limit.toFixed(2)}×`,
      ok: r === undefined ? undefined : atMost ? r <= limit : r >= limit,
    });
  };
  ratioCheck('CPU/request Q1 vs floor', 'Q1', (s) => s.cpuMsPerOp, 1.5, true);
  ratioCheck('CPU/request Q2 vs floor', 'Q2', (s) => s.cpuMsPerOp, 3, true);
  ratioCheck('Throughput Q1 vs floor', 'Q1', (s) => s.rps, 0.85, false);
  ratioCheck('p99 Q1 vs floor p99', 'Q1', (s) => s.p99, 1.5, true);

  const floorQ1 = find(summaries, latencyMs, 'Q1', 'floor');
  for (const [name, factor] of [
    ['Q1', 1],
    ['Q3', 2],
  ] as const) {
    const gw = find(summaries, latencyMs, name, 'gateway');
    const limit = floorQ1 === undefined ? undefined : factor * floorQ1.p50 + 2;
    checks.push({
      target: `${latencyMs} ms upstream latency, 1 at a time: ${name} p50`,
      measured: gw === undefined ? '—' : `${f2(gw.p50)} ms`,
      limit:
        limit === undefined
          ? `≤ ${factor === 1 ? '' : `${factor} × `}floor Q1 p50 + 2 ms`
          : `≤ ${factor === 1 ? '' : `${factor} × `}${f2(floorQ1!.p50)} + 2 = ${f2(limit)} ms`,
      ok: gw === undefined || limit === undefined ? undefined : gw.p50 <= limit,
    });
  }

  for (const [name, calls] of [
    ['Q1', 3],
    ['Q2', 1],
  ] as const) {
    const gw = find(summaries, 0, name, 'gateway') ?? find(summaries, latencyMs, name, 'gateway');
    checks.push({
      target: `Upstream calls per ${name}`,
      measured: f2(gw?.callsPerOp),
      limit: `= ${calls}`,
      // Requests cut off when a window ends still reach the upstreams: allow that sliver.
      ok: gw === undefined ? undefined : Math.abs(gw.callsPerOp - calls) < 0.05,
    });
  }

  checks.push({
    target: 'Gateway peak RSS (VmHWM over the whole run)',
    measured: gatewayPeakRssMb === undefined ? '—' : `${f1(gatewayPeakRssMb)} MB`,
    limit: '≤ 150 MB',
    ok: gatewayPeakRssMb === undefined ? undefined : gatewayPeakRssMb <= 150,
  });

  const errors = summaries.reduce((n, s) => n + s.errors, 0);
  checks.push({
    target: 'Every response 2xx with data and no GraphQL errors',
    measured: `${errors} failed`,
    limit: '0',
    ok: errors === 0,
  });
  return checks;
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  return table(
    ['target', 'measured', 'limit', ''],
    checks.map((c) => [c.target, c.measured, c.limit, c.ok === undefined ? 'not measured' : c.ok ? '✅' : '❌']),
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
