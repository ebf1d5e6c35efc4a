import type { YogaLogger } from 'graphql-yoga';
import type { Logger } from 'pino';
import { UpstreamError } from './upstreams/upstream-error.js';

/** Yoga's own log lines, through our pino logger (component `yoga`). */
export function createYogaLogging(logger: Logger): YogaLogger {
  const yogaLog = logger.child({ component: 'yoga' });
  return {
    debug: (...args: unknown[]) => yogaLog.debug(String(args[0])),
    info: (...args: unknown[]) => yogaLog.info(String(args[0])),
    // The JWT plugin warns on every token it cannot verify: useClientAuth logs those refusals
    // once per client and interval instead (src/http/refusal-log.ts), so a flood of bad
    // tokens cannot flood the log.
    warn: (...args: unknown[]) => {
      const message = String(args[0]);
      if (/^Failed to (verify|decode) (JWT )?authentication token/.test(message)) yogaLog.debug(message);
      else yogaLog.warn(message);
    },
    // Yoga reports every resolver error here. Upstream failures are expected and already
    // logged (with their code) by useOperationLog, so they drop to debug.
    error: (...args: unknown[]) => {
      const err = args[0];
      if (!(err instanceof Error)) return yogaLog.error(String(err));
      const expected =
        err instanceof UpstreamError || (err as { originalError?: unknown }).originalError instanceof UpstreamError;
      if (expected) yogaLog.debug({ err }, 'upstream failure');
      else yogaLog.error({ err }, 'yoga error');
    },
  };
}
