import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { AxisClient } from './axis/client.js';
import { parseAxisErrorBody } from './axis/types.js';
import { UpstreamHttp } from './http.js';
import type { CircuitStateName, ResilienceOptions } from './http.js';
import type { UpstreamCallEvent } from './instrumentation.js';
import type { Tracing } from '../tracing.js';
import { createNpmTokenSource } from './npm/auth.js';
import type { SharedTokenStore } from './npm/auth.js';
import { NpmClient } from './npm/client.js';
import { parseNpmErrorBody } from './npm/types.js';
import { configSecrets } from '../secrecy.js';

export interface Upstreams {
  npm: NpmClient;
  axis: AxisClient;
  /** Circuit breaker state per upstream (for /ready and metrics). */
  circuits(): Record<'npm' | 'axis', CircuitStateName>;
  /** Closes both pools after in-flight calls finish. */
  close(): Promise<void>;
  /** Drops every connection at once (after a shutdown grace period). */
  destroy(): Promise<void>;
}

/** Where metrics and traces hook into the upstream layer. */
export interface UpstreamHooks {
  onCall?: (event: UpstreamCallEvent) => void;
  onNpmLogin?: (outcome: 'success' | 'failure') => void;
  tracing?: Tracing;
  /** REDIS_URL set: the fleet shares one NPM token. */
  sharedNpmToken?: SharedTokenStore;
}

/** One pool and one client per upstream, built once per process. */
export function createUpstreams(config: GatewayConfig, logger: Logger, hooks: UpstreamHooks = {}): Upstreams {
  const { onCall, tracing } = hooks;
  const r = config.resilience;
  const resilience: Partial<ResilienceOptions> = {
    connectTimeoutMs: r.connectTimeoutMs,
    retries: r.retries,
    maxConcurrency: r.maxConcurrency,
    maxQueue: r.maxQueue,
    breakerThreshold: r.breakerThreshold,
    breakerHalfOpenMs: r.breakerHalfOpenMs,
  };
  const secrets = configSecrets(config);
  const npmHttp = new UpstreamHttp({
    upstream: 'npm',
    baseUrl: config.npm.baseUrl,
    timeoutMs: r.npmTimeoutMs,
    resilience,
    logger,
    parseErrorBody: parseNpmErrorBody,
    secrets,
    tls: { rejectUnauthorized: config.npm.tlsRejectUnauthorized, ca: config.npm.ca },
    onCall,
    ...(tracing ? { tracing } : {}),
  });
  const axisHttp = new UpstreamHttp({
    upstream: 'axis',
    baseUrl: config.axis.baseUrl,
    timeoutMs: r.axisTimeoutMs,
    resilience,
    logger,
    parseErrorBody: parseAxisErrorBody,
    secrets,
    onCall,
    ...(tracing ? { tracing } : {}),
  });
  const npm = new NpmClient(
    npmHttp,
    createNpmTokenSource(config.npm.auth, npmHttp, logger, Date.now, hooks.onNpmLogin, hooks.sharedNpmToken),
    logger,
  );
  const axis = new AxisClient(axisHttp, config.axis.apiPrefix, config.axis.apiToken);
  return {
    npm,
    axis,
    circuits: () => ({ npm: npmHttp.circuitState(), axis: axisHttp.circuitState() }),
    async close() {
      await Promise.all([npmHttp.close(), axisHttp.close()]);
    },
    async destroy() {
      await Promise.all([npmHttp.destroy(), axisHttp.destroy()]);
    },
  };
}
