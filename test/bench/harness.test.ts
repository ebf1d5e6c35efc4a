import { describe, expect, it } from 'vitest';
import { checkTargets, redisPriceTable, redisPrices, summarise, targetsTable } from '../../bench/report.js';
import type { RunResult } from '../../bench/report.js';
import { groupOf } from '../../bench/profile-summary.js';
import { cpuMs, rssMb } from '../../bench/procs.js';
import { Samples, leastSquares, median, percentile } from '../../bench/stats.js';

describe('bench statistics', () => {
  it('percentiles interpolate between ranks; the median of an even list is the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 99)).toBeCloseTo(49.6);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('Samples keeps every value past its initial capacity and sorts numerically', () => {
    const samples = new Samples();
    for (let i = 10_000; i > 0; i--) samples.push(i / 10);
    const sorted = samples.sorted();
    expect(sorted).toHaveLength(10_000);
    expect(sorted[0]).toBe(0.1);
    expect(sorted[9_999]).toBe(1000);
  });

  it('least squares recovers a known slope (MB per minute in soak mode)', () => {
    const xs = [0, 1, 2, 3, 4];
    expect(leastSquares(xs, [5, 7, 9, 11, 13])).toEqual({ slope: 2, intercept: 5 });
    expect(leastSquares([1], [1]).slope).toBeNaN();
  });
});

describe('bench /proc readers', () => {
  it('read this process: CPU time grows with work, RSS is plausible', () => {
    const before = cpuMs(process.pid);
    const until = Date.now() + 60;
    while (Date.now() < until) Math.sqrt(Math.random());
    expect(cpuMs(process.pid)).toBeGreaterThanOrEqual(before);
    expect(rssMb(process.pid)).toBeGreaterThan(10);
  });
});

function run(overrides: Partial<RunResult>): RunResult {
  return {
    scenario: 'Q1',
    target: 'gateway',
    round: 1,
    latencyMs: 0,
    connections: 32,
    requests: 1000,
    durationSec: 10,
    rps: 100,
    p50: 10,
    p99: 20,
    cpuMsPerOp: 1,
    simCpuMsPerOp: 0.1,
    loadCpuMsPerOp: 0.1,
    peakRssMb: 100,
    callsPerOp: 3,
    errors: 0,
    errorNote: undefined,
    ...overrides,
  };
}

describe('bench report', () => {
  it('takes medians across rounds, but the peak RSS is the highest', () => {
    const [summary] = summarise([
      run({ round: 1, rps: 90, peakRssMb: 120 }),
      run({ round: 2, rps: 110, peakRssMb: 100 }),
      run({ round: 3, rps: 100, peakRssMb: 110 }),
    ]);
    expect(summary).toMatchObject({ rps: 100, peakRssMb: 120, rounds: 3 });
  });

  it('judges the targets from the gateway/floor ratios and the latency sums', () => {
    const summaries = summarise([
      run({ target: 'gateway', cpuMsPerOp: 1.4, rps: 90, p99: 14 }),
      run({ target: 'floor', cpuMsPerOp: 1, rps: 100, p99: 10 }),
      run({ scenario: 'Q2', target: 'gateway', cpuMsPerOp: 3.5, callsPerOp: 1 }),
      run({ scenario: 'Q2', target: 'floor', cpuMsPerOp: 1, callsPerOp: 1 }),
      run({ latencyMs: 20, target: 'gateway', p99: 40 }),
      run({ latencyMs: 20, target: 'floor', p99: 30 }),
      run({ latencyMs: 20, connections: 1, target: 'gateway', p50: 23.5 }),
      run({ latencyMs: 20, connections: 1, target: 'floor', p50: 22 }),
      run({ latencyMs: 20, connections: 1, scenario: 'Q3', target: 'gateway', p50: 46.5 }),
    ]);
    const phases = {
      loaded: { latencyMs: 0, connections: 32 },
      latency: { latencyMs: 20, connections: 32 },
      serial: { latencyMs: 20, connections: 1 },
    };
    const verdicts = Object.fromEntries(
      checkTargets(summaries, phases, { gateway: 151, floor: 100 }).map((c) => [c.target, c.ok]),
    );
    expect(verdicts).toMatchObject({
      'Q1 CPU/request vs floor': true,
      'Q2 CPU/request vs floor': false,
      'Q1 throughput vs floor': true,
      'Peak RSS (VmHWM over the whole run)': false,
      // 40 / 30 = 1.33 > 1.25
      'Q1 p99, +20 ms upstream, 32 connections, vs floor p99': false,
      '20 ms upstream latency, 1 at a time: Q1 p50': true,
      '20 ms upstream latency, 1 at a time: Q3 p50': false,
      'Upstream calls per Q1': true,
      'Upstream calls per Q2': true,
      'Every response 2xx with data and no GraphQL errors': true,
    });
  });

  it('keeps the same-connection latency runs apart from the one-at-a-time ones', () => {
    const summaries = summarise([
      run({ latencyMs: 20, connections: 32, target: 'gateway', p99: 36 }),
      run({ latencyMs: 20, connections: 32, target: 'floor', p99: 30 }),
      run({ latencyMs: 20, connections: 1, target: 'gateway', p99: 90 }),
    ]);
    expect(summaries).toHaveLength(3);
    const p99 = checkTargets(
      summaries,
      { loaded: { latencyMs: 0, connections: 32 }, latency: { latencyMs: 20, connections: 32 } },
      {},
    ).find((c) => c.target.startsWith('Q1 p99'));
    expect(p99).toMatchObject({ measured: '1.20×', ok: true });
  });

  it("puts the reference servers' ratios beside the gateway's, each judged by the same limit", () => {
    const summaries = summarise([
      run({ target: 'floor', cpuMsPerOp: 0.4 }),
      run({ target: 'mercurius', cpuMsPerOp: 0.5 }),
      run({ target: 'yoga', cpuMsPerOp: 1.0 }),
      run({ target: 'gateway', cpuMsPerOp: 1.6 }),
    ]);
    const checks = checkTargets(summaries, { loaded: { latencyMs: 0, connections: 32 }, latency: undefined }, {});
    const q1 = checks.find((c) => c.target === 'Q1 CPU/request vs floor')!;
    expect(q1).toMatchObject({
      measured: '4.00×',
      ok: false,
      references: { mercurius: { measured: '1.25×', ok: true }, yoga: { measured: '2.50×', ok: false } },
    });
    const table = targetsTable(checks);
    expect(table).toContain('| Q1 CPU/request vs floor');
    expect(table).toMatch(/4\.00× +\| ❌ +\| 1\.25× ✅ +\| 2\.50× ❌/);
    // Not run in this phase set: said so, not passed.
    expect(checks.find((c) => c.target.startsWith('Q1 p99'))?.ok).toBeUndefined();
  });

  it('says "not measured" rather than passing a target it has no numbers for', () => {
    const checks = checkTargets(
      summarise([run({ scenario: 'Q2' })]),
      { loaded: { latencyMs: 0, connections: 32 }, latency: { latencyMs: 20, connections: 32 } },
      {},
    );
    expect(checks.find((c) => c.target === 'Q1 CPU/request vs floor')?.ok).toBeUndefined();
    expect(checks.find((c) => c.target.startsWith('Peak RSS'))?.ok).toBeUndefined();
    expect(checks.find((c) => c.target.startsWith('Q1 p99'))?.ok).toBeUndefined();
  });
});

describe('bench profile summary', () => {
  it('groups frames by package, scoped packages included', () => {
    const frame = (url: string, functionName = 'f') => ({ url, functionName, lineNumber: 0 });
    expect(groupOf(frame('file:///app/node_modules/@graphql-tools/executor/esm/x.js'))).toBe('@graphql-tools/executor');
    expect(groupOf(frame('file:///app/node_modules/a/node_modules/undici/lib/x.js'))).toBe('undici');
    expect(groupOf(frame('node:internal/streams/pipeline'))).toBe('node core');
    expect(groupOf(frame('file:///app/dist/upstreams/http.js'))).toBe('project dist/');
    expect(groupOf(frame('file:///app/dist-sim/sim-server.js'))).toBe('project dist-sim/');
    expect(groupOf(frame('', '(garbage collector)'))).toBe('(garbage collector)');
  });
});

describe('bench report: the Price of Redis', () => {
  const priced = (overrides: Partial<RunResult>) => run({ scenario: 'M1K', callsPerOp: 4, ...overrides });

  it('prices Redis per request as the gateway CPU difference plus the redis-server CPU, medians across rounds', () => {
    const summaries = summarise([
      run({ target: 'gateway', cpuMsPerOp: 3.0 }),
      run({ target: 'gateway-redis', cpuMsPerOp: 3.1, redisCpuMsPerOp: 0.04, redisCommandsPerOp: 1 }),
      priced({ target: 'gateway', round: 1, cpuMsPerOp: 2.9, rps: 200 }),
      priced({ target: 'gateway', round: 2, cpuMsPerOp: 3.0, rps: 220 }),
      priced({
        target: 'gateway-redis',
        round: 1,
        cpuMsPerOp: 3.5,
        rps: 180,
        redisCpuMsPerOp: 0.25,
        redisCommandsPerOp: 15,
        redisCommandUsPerOp: 80,
        redisCommands: { set: 4, eval: 3, evalsha: 1 },
      }),
      priced({
        target: 'gateway-redis',
        round: 2,
        cpuMsPerOp: 3.7,
        rps: 190,
        redisCpuMsPerOp: 0.27,
        redisCommandsPerOp: 15,
        redisCommandUsPerOp: 84,
      }),
    ]);
    const [q1, m1k] = redisPrices(summaries, ['Q1', 'M1K']);
    expect(q1!.gatewayDeltaUs).toBeCloseTo(100);
    expect(q1!.totalUs).toBeCloseTo(140);
    expect(m1k).toMatchObject({
      commandsPerOp: 15,
      commandUs: 82,
      errors: 0,
      commands: 'set 4.00, eval 3.00, evalsha 1.00',
    });
    // Medians of 2.9/3.0 and 3.5/3.7: 2950 and 3600 µs.
    expect(m1k!.memoryUs).toBeCloseTo(2950);
    expect(m1k!.gatewayDeltaUs).toBeCloseTo(650);
    expect(m1k!.redisServerUs).toBeCloseTo(260);
    expect(m1k!.totalUs).toBeCloseTo(910);
    const table = redisPriceTable([q1!, m1k!]);
    expect(table).toMatch(
      /\| M1K +\| +2950 \| +3600 \| +\+650 \(\+22%\) \| +260 \| +\+910 \| +15\.00 \| +82\.0 \| +210 → 185 \| +0 \|/,
    );
  });

  it('says "—" rather than a price when one side was not measured, and adds up both sides\' errors', () => {
    const [price] = redisPrices(
      summarise([priced({ target: 'gateway', errors: 2 }), run({ target: 'gateway-redis', scenario: 'Q1' })]),
      ['M1K'],
    );
    expect(price).toMatchObject({ redisUs: undefined, gatewayDeltaUs: undefined, totalUs: undefined, errors: 2 });
    expect(redisPriceTable([price!])).toMatch(/\| M1K +\| +1000 \| +— \| +— \| +— \| +— \|/);
  });
});
