/**
 * `npm run bench:ab -- --base <git revision> [flags]`: this checkout's gateway against the
 * gateway built at another revision, to price one change. Both run side by side in their
 * default configuration (as `npm run bench` starts them) over the same simulators, and take
 * turns: short runs of the same op alternate between them, round after round, the order
 * flipped every round. On a shared machine the speed drifts by a third between minutes, so
 * two separate bench runs cannot show a 5% change; two runs a few seconds apart can.
 *
 * Reports, per op, each side's CPU per request (whole process, /proc) as the median over
 * the rounds, and the median of the per-round ratios (current / base) with its range; and
 * each side's young-generation collections per 1000 requests (both run under `--trace-gc`,
 * its lines counted in their logs). That count follows the bytes allocated per request and
 * hardly moves with the machine's speed, so it shows an allocation change that CPU figures
 * a few percent apart cannot.
 * The base is built in a temporary git worktree, with this checkout's node_modules linked in
 * when the two lockfiles agree, else with an `npm ci` of its own.
 *
 *   --base <rev>        the revision to compare with (required), e.g. HEAD~3, main, a hash
 *   --scenarios Q1,Q2   ops to run (Q1,Q2)
 *   --rounds <n>        turns per op (10)
 *   --duration <s>      seconds per run (3)
 *   --connections <n>   concurrent connections (32)
 *   --env K=V           an extra environment variable for the current side only, repeatable:
 *                       with `--base HEAD` it prices a setting (e.g. NODE_OPTIONS=--max-semi-space-size=32)
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HEADERS, gatewayEnvironment, simulatorsEnvironment, upstreamEnvironment } from './environment.js';
import { hasData, runLoad } from './load.js';
import { cpuMs, freePort, peakRssMb, startChild, stopAll } from './procs.js';
import { SCENARIOS, isScenarioName, requestBody } from './scenarios.js';
import type { ScenarioName } from './scenarios.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';

const { values } = parseArgs({
  strict: true,
  options: {
    base: { type: 'string' },
    scenarios: { type: 'string', default: 'Q1,Q2' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
if (values.base === undefined)
  throw new Error('--base <git revision> is required (what to compare this checkout with)');
const scenarios = values.scenarios.split(',').map((s) => s.trim().toUpperCase());
for (const s of scenarios) if (!isScenarioName(s)) throw new Error(`--scenarios: unknown "${s}"`);
const rounds = Math.max(1, Number(values.rounds));
const durationSec = Math.max(1, Number(values.duration));
const connections = Math.max(1, Number(values.connections));
const currentEnv: Record<string, string> = {};
for (const kv of values.env) {
  const at = kv.indexOf('=');
  if (at <= 0) throw new Error(`--env: expected K=V, got "${kv}"`);
  currentEnv[kv.slice(0, at)] = kv.slice(at + 1);
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const baseRev = git('rev-parse', '--short', values.base);
const baseDir = mkdtempSync(join(tmpdir(), 'gateway-ab-base-'));
const logDir = mkdtempSync(join(tmpdir(), 'gateway-ab-'));

/** Whether the base's package-lock.json is this checkout's (then its node_modules serve both). */
function sameLockfile(rev: string): boolean {
  try {
    execFileSync('git', ['diff', '--quiet', rev, '--', 'package-lock.json'], { cwd: ROOT });
    return true;
  } catch {
    return false;
  }
}

/**
 * Young-generation collections (Scavenge lines of `--trace-gc`) written to a log since the
 * counter's last call: each call reads only what was appended since.
 */
function scavengeCounter(logFile: string): () => number {
  let offset = 0;
  let carry = '';
  return () => {
    const fd = openSync(logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const chunk = Buffer.alloc(Math.max(0, size - offset));
      readSync(fd, chunk, 0, chunk.length, offset);
      offset = size;
      const text = carry + chunk.toString('latin1');
      const end = text.lastIndexOf('\n') + 1;
      carry = text.slice(end);
      let count = 0;
      for (let at = text.indexOf(': Scavenge ', 0); at !== -1 && at < end; at = text.indexOf(': Scavenge ', at + 1))
        count++;
      return count;
    } finally {
      closeSync(fd);
    }
  };
}

function cleanUp(): void {
  try {
    git('worktree', 'remove', '--force', baseDir);
  } catch {
    rmSync(baseDir, { recursive: true, force: true });
  }
}

try {
  process.stdout.write(`building the base, ${baseRev}, in ${baseDir}\n`);
  git('worktree', 'add', '--detach', baseDir, baseRev);
  if (sameLockfile(baseRev)) {
    symlinkSync(join(ROOT, 'node_modules'), join(baseDir, 'node_modules'), 'dir');
  } else {
    // Other dependencies at the base: it gets its own install (from npm's cache when it can).
    process.stdout.write(`the base's package-lock.json differs: npm ci in ${baseDir}\n`);
    execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: baseDir, stdio: 'inherit' });
  }
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: baseDir,
    stdio: 'inherit',
  });

  const [npmPort, axisPort] = [await freePort(), await freePort()];
  const npmUrl = `http://${HOST}:${npmPort}`;
  const axisUrl = `http://${HOST}:${axisPort}`;
  await startChild({
    name: 'simulators',
    command: process.execPath,
    args: ['dist-sim/main.js'],
    cwd: ROOT,
    logDir,
    env: simulatorsEnvironment(HOST, npmPort, axisPort),
    healthUrls: [`${npmUrl}/__sim/health`, `${axisUrl}/__sim/health`],
  });
  const sides = { base: baseDir, current: ROOT };
  const gateways = {} as Record<keyof typeof sides, { url: string; pid: number; scavenges: () => number }>;
  for (const [side, cwd] of Object.entries(sides) as [keyof typeof sides, string][]) {
    const port = await freePort();
    const child = await startChild({
      name: `gateway-${side}`,
      command: process.execPath,
      // --trace-gc: a line per collection in its log, counted per run (scavengeCounter).
      args: ['--trace-gc', 'dist/main.js'],
      cwd,
      logDir,
      // The default configuration, as `npm run bench` runs it.
      env: gatewayEnvironment(port, HOST, upstreamEnvironment(npmUrl, axisUrl), side === 'current' ? currentEnv : {}),
      healthUrls: [`http://${HOST}:${port}/health`],
    });
    gateways[side] = {
      url: `http://${HOST}:${port}/graphql`,
      pid: child.pid,
      scavenges: scavengeCounter(child.logFile),
    };
  }
  /** One run: CPU µs per request, and scavenges per 1000 requests. */
  const run = async (
    side: keyof typeof sides,
    op: ScenarioName,
    seconds: number,
  ): Promise<{ us: number; gc: number }> => {
    const { pid, url, scavenges } = gateways[side];
    scavenges();
    const before = cpuMs(pid);
    const out = await runLoad({
      url,
      body: requestBody(SCENARIOS[op]),
      headers: HEADERS,
      connections,
      durationSec: seconds,
      verifyBody: hasData,
    });
    // A side that answers with errors is cheap for the wrong reason: its figure would mean nothing.
    if (out.non2xx > 0 || out.errors > 0 || out.mismatches > 0)
      throw new Error(`${side} ${op}: ${out.non2xx} non-2xx, ${out.errors} errors, ${out.mismatches} without data`);
    const us = ((cpuMs(pid) - before) * 1000) / out.requests;
    return { us, gc: (scavenges() * 1000) / out.requests };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const extra = Object.entries(currentEnv)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('');
  process.stdout.write(
    `base ${baseRev} vs current (${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') === '' ? '' : '-dirty'})${extra}, ${rounds} rounds of ${durationSec} s, ${connections} connections\n`,
  );
  const lines: string[] = [];
  for (const op of scenarios as ScenarioName[]) {
    // Warm-up: JIT, caches, heap growth (the first seconds of an op cost up to twice the rest).
    for (const side of ['base', 'current'] as const) await run(side, op, 6);
    const us = { base: [] as number[], current: [] as number[] };
    const gc = { base: [] as number[], current: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? (['base', 'current'] as const) : (['current', 'base'] as const)) {
        const out = await run(side, op, durationSec);
        us[side].push(out.us);
        gc[side].push(out.gc);
      }
      process.stdout.write(
        `  ${op} r${r + 1}  base ${us.base.at(-1)!.toFixed(0)} µs ${gc.base.at(-1)!.toFixed(1)} gc  current ${us.current.at(-1)!.toFixed(0)} µs ${gc.current.at(-1)!.toFixed(1)} gc\n`,
      );
    }
    const ratios = us.current.map((c, i) => c / us.base[i]!);
    lines.push(
      `| ${op} | ${median(us.base).toFixed(0)} | ${median(us.current).toFixed(0)} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} | ${median(gc.base).toFixed(2)} | ${median(gc.current).toFixed(2)} | ${(median(gc.current) / median(gc.base)).toFixed(3)} |`,
    );
  }
  process.stdout.write(
    `\n| op | base ${baseRev} CPU µs/req | current CPU µs/req | current / base (median) | range | base scavenges /1000 req | current scavenges /1000 req | current / base |\n|---|---:|---:|---:|---|---:|---:|---:|\n${lines.join('\n')}\n`,
  );
  process.stdout.write(
    `\npeak RSS (VmHWM): base ${peakRssMb(gateways.base.pid).toFixed(1)} MiB, current ${peakRssMb(gateways.current.pid).toFixed(1)} MiB\n`,
  );
} finally {
  await stopAll();
  cleanUp();
}
