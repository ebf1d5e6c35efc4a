/**
 * Preloaded into a child gateway process (`--import`) by test/helpers/child-gateway.ts: it
 * answers `'stats'` over the IPC channel with the process's peak RSS (the kernel's
 * high-water mark, so a spike between two samples is not missed) and two measures of the
 * longest event-loop stall since the previous answer:
 *
 * - `maxLoopDelayMs`, wall time (perf_hooks.monitorEventLoopDelay): what a caller waits,
 *   including the time the process waited for a core on a loaded machine;
 * - `maxLoopWorkMs`, the main thread's own CPU time between two turns of a 10 ms timer
 *   (the kernel's per-thread run time, /proc/self/task/<pid>/schedstat): the longest
 *   synchronous stretch of the gateway's own work, whatever else the machine runs. Where
 *   /proc is missing it falls back to the process's CPU time (all threads).
 *
 * Test-only: never part of the gateway, and reachable only over the child's IPC channel.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

const runTimeNs = ((): (() => number) => {
  try {
    const fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
    const buf = Buffer.alloc(128);
    const read = () => Number(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ')[0]);
    if (Number.isFinite(read())) return read;
    closeSync(fd);
  } catch {
    // Not Linux: below.
  }
  return () => {
    const { user, system } = process.cpuUsage();
    return (user + system) * 1000;
  };
})();

let maxWorkMs = 0;
let last = runTimeNs();
const tick = setInterval(() => {
  const now = runTimeNs();
  maxWorkMs = Math.max(maxWorkMs, (now - last) / 1e6);
  last = now;
}, 10);
tick.unref();

process.on('message', (message) => {
  if (message !== 'stats') return;
  process.send?.({
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    maxLoopDelayMs: loop.max / 1e6,
    maxLoopWorkMs: maxWorkMs,
  });
  loop.reset();
  maxWorkMs = 0;
  last = runTimeNs();
});
// The IPC channel must not keep a gateway alive that was told to stop.
process.channel?.unref();
