/**
 * Preloaded into a child gateway process (`--import`) by test/helpers/child-gateway.ts: it
 * answers `'stats'` over the IPC channel with the process's peak RSS (the kernel's
 * high-water mark, so a spike between two samples is not missed) and the longest
 * event-loop stall since the previous answer. Test-only: never part of the gateway.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

process.on('message', (message) => {
  if (message !== 'stats') return;
  process.send?.({
    rssBytes: process.memoryUsage.rss(),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    maxLoopDelayMs: loop.max / 1e6,
  });
  loop.reset();
});
// The IPC channel must not keep a gateway alive that was told to stop.
process.channel?.unref();
