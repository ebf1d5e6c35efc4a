import type { Logger } from 'pino';

/**
 * One warn line per (reason, client) per interval for refused requests, and one line per
 * interval counting what was left out, so a flood of bad credentials, oversized bodies or
 * costly documents cannot flood the log. Every refusal goes through here: the HTTP front's
 * (bodies, paths, credentials, rate and subscription limits, keyed by client address or
 * caller) and GraphQL's limits (`cost_limit`, `request_budget`, keyed by caller, with the
 * request id and the limit in the line). A refusal is the caller's problem, not the
 * gateway's: warn, never error. The interval is REFUSAL_LOG_INTERVAL_S.
 */
export interface RefusalLog {
  refused(reason: string, client: string, fields?: Record<string, unknown>): void;
}

/** Distinct (reason, client) pairs remembered per interval; past this, every refusal is counted only. */
const MAX_KEYS = 1_000;

export function createRefusalLog(logger: Logger, intervalMs = 60_000): RefusalLog {
  const log = logger.child({ component: 'refusals' });
  let seen = new Set<string>();
  let suppressed = new Map<string, number>();
  let windowTimer: NodeJS.Timeout | undefined;
  // The window starts with the first refusal and its timer runs only while refusals come:
  // an idle gateway keeps no timer.
  const endWindow = () => {
    windowTimer = undefined;
    if (suppressed.size > 0) {
      log.warn(
        { suppressed: Object.fromEntries(suppressed), intervalMs },
        'refused requests not logged one by one in the last interval, by reason',
      );
    }
    seen = new Set();
    suppressed = new Map();
  };
  return {
    refused(reason, client, fields = {}) {
      if (windowTimer === undefined) {
        windowTimer = setTimeout(endWindow, intervalMs);
        windowTimer.unref();
      }
      const key = `${reason}\u0000${client}`;
      if (!seen.has(key) && seen.size < MAX_KEYS) {
        seen.add(key);
        log.warn({ reason, client, ...fields }, 'request refused');
        return;
      }
      suppressed.set(reason, (suppressed.get(reason) ?? 0) + 1);
    },
  };
}
