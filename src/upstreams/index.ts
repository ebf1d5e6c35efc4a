import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { AxisClient } from './axis/client.js';
import { parseAxisErrorBody } from './axis/types.js';
import { UpstreamHttp } from './http.js';
import type { UpstreamCallEvent } from './http.js';
import { createNpmTokenSource } from './npm/auth.js';
import { NpmClient } from './npm/client.js';
import { parseNpmErrorBody } from './npm/types.js';

export interface Upstreams {
  npm: NpmClient;
  axis: AxisClient;
  /** Closes both pools after in-flight calls finish. */
  close(): Promise<void>;
}

/** One pool and one client per upstream, built once per process. */
export function createUpstreams(
  config: GatewayConfig,
  logger: Logger,
  onCall?: (event: UpstreamCallEvent) => void,
): Upstreams {
  const npmHttp = new UpstreamHttp({
    upstream: 'npm',
    baseUrl: config.npm.baseUrl,
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    parseErrorBody: parseNpmErrorBody,
    tls: { rejectUnauthorized: config.npm.tlsRejectUnauthorized, ca: config.npm.ca },
    onCall,
  });
  const axisHttp = new UpstreamHttp({
    upstream: 'axis',
    baseUrl: config.axis.baseUrl,
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    parseErrorBody: parseAxisErrorBody,
    onCall,
  });
  const npm = new NpmClient(npmHttp, createNpmTokenSource(config.npm.auth, npmHttp, logger), logger);
  const axis = new AxisClient(axisHttp, config.axis.apiPrefix, config.axis.apiToken);
  return {
    npm,
    axis,
    async close() {
      await Promise.all([npmHttp.close(), axisHttp.close()]);
    },
  };
}
