/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self
 * time, and self time per package, idle excluded. `npm run bench -- --cpu-prof` prints this
 * for every process it profiled; by hand:
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time excluding idle, ms. */
  busyMs: number;
  idleMs: number;
  functions: { name: string; where: string; group: string; selfMs: number }[];
  groups: { group: string; selfMs: number }[];
}

/** Which package (or runtime part) a frame belongs to. */
export function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(program)') return '(program: V8 and native)';
    if (functionName === '(idle)') return '(idle)';
    return '(native builtins)';
  }
  if (url.startsWith('node:')) return 'node core';
  // bench/run.ts transpiles the floor into node_modules/.cache (see buildFloor).
  if (url.includes('/node_modules/.cache/')) return 'project bench/ (floor)';
  const marker = '/node_modules/';
  const at = url.lastIndexOf(marker);
  if (at !== -1) {
    const parts = url.slice(at + marker.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? 'node_modules');
  }
  const own = /\/(dist-sim|dist|src|bench)\//.exec(url);
  return own === null ? 'other' : `project ${own[1]}/`;
}

function shortWhere(frame: CallFrame): string {
  const { url } = frame;
  if (url === '') return '';
  const marker = '/node_modules/';
  const at = url.lastIndexOf(marker);
  let file =
    at !== -1 ? url.slice(at + marker.length) : url.replace(/^file:\/\/.*?\/(dist-sim|dist|src|bench)\//, '$1/');
  file = file.replace(/^node:/, 'node:');
  return `${file}:${frame.lineNumber + 1}`;
}

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map<string, { name: string; where: string; group: string; selfMs: number }>();
  const groups = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const ms = us / 1000;
    const group = groupOf(node.callFrame);
    if (group === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    groups.set(group, (groups.get(group) ?? 0) + ms);
    const where = shortWhere(node.callFrame);
    const name = node.callFrame.functionName || '(anonymous)';
    const key = `${name}|${where}`;
    const entry = functions.get(key) ?? { name, where, group, selfMs: 0 };
    entry.selfMs += ms;
    functions.set(key, entry);
  }
  return {
    busyMs,
    idleMs,
    functions: [...functions.values()].sort((a, b) => b.selfMs - a.selfMs),
    groups: [...groups.entries()].map(([group, selfMs]) => ({ group, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function formatSummary(title: string, summary: ProfileSummary, top = 15): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(summary.busyMs, 1e-9)).toFixed(1).padStart(5)}%`;
  const lines = [
    `${title}: ${summary.busyMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle`,
    '',
    `  top ${top} functions by self time (share of busy time)`,
    ...summary.functions
      .slice(0, top)
      .map((f) => `  ${pct(f.selfMs)}  ${f.name.slice(0, 40).padEnd(40)}  ${f.group.padEnd(26)}  ${f.where}`),
    '',
    '  self time by package',
    ...summary.groups.slice(0, 20).map((g) => `  ${pct(g.selfMs)}  ${g.group}`),
  ];
  return lines.join('\n');
}

export function summariseFile(file: string, top = 15): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return formatSummary(file, summariseProfile(profile), top);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summariseFile(file, top === undefined ? 15 : Number(top))}\n`);
}
