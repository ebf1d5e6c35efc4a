/**
 * What every bench process is started with, in one place: the simulators' demo credentials,
 * the benchmark's client key and request headers, and the gateway's default configuration.
 * `bench/run.ts` and `bench/ab.ts` both start the gateway from here, so the two measure the
 * same configuration.
 */

// The simulators' demo credentials (simulators/config.ts defaults), passed explicitly.
export const NPM_USER = 'admin';
export const NPM_PASSWORD = 'demo-npm-password';
export const AXIS_TOKEN = 'demo-axis-rw-token';
/** The benchmark's client key (GATEWAY_API_KEYS); sent on every request to every server. */
export const API_KEY = 'bench-api-key-0123456789abcdef0123456789abcdef';

/** The headers of every benchmark request. */
export const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
  authorization: `Bearer ${API_KEY}`,
};

/**
 * The Axis directory every bench run works against: a real tenant's size, not the 120-user
 * demo seed. Q1 and M1 read one user or one page of it; Q3's member lists are all of it, one
 * 1000-list (bench/scenarios.ts). test/bench/floor-parity.test.ts checks every server's
 * answer over the same directory.
 */
export const BENCH_TENANT_USERS = 1000;

/** The simulators' environment (both in one process, on the given ports). */
export function simulatorsEnvironment(host: string, npmPort: number, axisPort: number): Record<string, string> {
  return {
    SIM_HOST: host,
    AXIS_SIM_SEED_USERS: String(BENCH_TENANT_USERS),
    NPM_SIM_PORT: String(npmPort),
    AXIS_SIM_PORT: String(axisPort),
    NPM_SIM_USERNAME: NPM_USER,
    NPM_SIM_PASSWORD: NPM_PASSWORD,
    AXIS_SIM_RW_TOKEN: AXIS_TOKEN,
  };
}

/** Where a server finds the simulators, with their credentials. */
export function upstreamEnvironment(npmSimUrl: string, axisSimUrl: string): Record<string, string> {
  return {
    NPM_BASE_URL: npmSimUrl,
    NPM_USERNAME: NPM_USER,
    NPM_PASSWORD: NPM_PASSWORD,
    AXIS_BASE_URL: axisSimUrl,
    AXIS_API_TOKEN: AXIS_TOKEN,
  };
}

/**
 * The gateway's environment: the product defaults (info logs, metrics, client auth by API
 * key), with the rate limit on at a budget no run reaches, plus `extra`.
 */
export function gatewayEnvironment(
  port: number,
  host: string,
  upstreamEnv: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: host,
    ...upstreamEnv,
    GATEWAY_API_KEYS: `bench=admin:${API_KEY}`,
    RATE_LIMIT_RPS: '1000000',
    ...extra,
  };
}
