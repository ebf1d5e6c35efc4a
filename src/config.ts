import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { loadPersistedOperations } from './persisted-operations.js';
import type { BudgetLimits } from './request-budget.js';

/**
 * Every setting the gateway reads, validated once at start. This is the only module that
 * looks at process.env (through the `env` argument), so a bad value is reported here, all
 * problems together, instead of surfacing as a confusing failure on the first request.
 */

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const httpUrl = z
  .url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
  .transform((v) => v.replace(/\/+$/, ''));

/** Unset means "the default for this NODE_ENV". */
const optionalBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'must be true or false' })
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v === 'true' || v === '1' || v === 'yes'));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

function ms(min: number, max: number, fallback?: number) {
  const n = z.coerce.number({ message: 'must be a number of milliseconds' }).int().min(min).max(max);
  return fallback === undefined ? n : n.default(fallback);
}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NPM_BASE_URL: httpUrl,
  NPM_ACCESS_TOKEN: optionalText,
  NPM_USERNAME: optionalText,
  NPM_PASSWORD: optionalText,
  NPM_TLS_REJECT_UNAUTHORIZED: bool(true),
  NPM_CA_FILE: optionalText,
  AXIS_BASE_URL: httpUrl.default('https://admin-api.axissecurity.com'),
  AXIS_API_PREFIX: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, 'must be a path such as /api/v1')
    .default('/api/v1')
    .transform((v) => v.replace(/\/+$/, '')),
  AXIS_API_TOKEN: z.string({ message: 'is required' }).min(1, 'is required'),
  AXIS_AUTO_COMMIT: bool(true),
  UPSTREAM_TIMEOUT_MS: ms(100, 600_000, 10_000),
  UPSTREAM_CONNECT_TIMEOUT_MS: ms(100, 600_000, 3_000),
  NPM_TIMEOUT_MS: ms(100, 600_000).optional(),
  AXIS_TIMEOUT_MS: ms(100, 600_000).optional(),
  REQUEST_TIMEOUT_MS: ms(100, 600_000, 25_000),
  UPSTREAM_RETRIES: z.coerce.number().int().min(0).max(2).default(2),
  UPSTREAM_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(64),
  UPSTREAM_MAX_QUEUE: z.coerce.number().int().min(0).max(100_000).default(1_000),
  BREAKER_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(5),
  BREAKER_HALF_OPEN_MS: ms(100, 600_000, 5_000),
  SHUTDOWN_TIMEOUT_MS: ms(0, 600_000, 10_000),
  AZURE_STATUS_POLL_MS: ms(50, 3_600_000, 5_000),

  GATEWAY_API_KEYS: optionalText,
  AUTH_JWT_SECRET: optionalText,
  AUTH_JWKS_URL: optionalText.pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional()),
  AUTH_JWT_ISSUER: optionalText,
  AUTH_JWT_AUDIENCE: optionalText,
  /** Longest accepted JWT lifetime, counted from `iat`; unset = only `exp` limits it. */
  AUTH_JWT_MAX_AGE_S: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number({ message: 'must be a number of seconds' }).int().min(1).max(31_536_000).optional(),
  ),
  AUTH_ROLES_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_:/.-]+$/, 'must be a claim name such as roles')
    .default('roles'),
  AUTH_DISABLED: bool(false),
  RATE_LIMIT_RPS: z.coerce.number().int().min(0).max(1_000_000).default(50),
  RATE_LIMIT_BURST: z.coerce.number().int().min(0).max(1_000_000).optional(),
  IDEMPOTENCY_TTL_S: z.coerce.number().int().min(1).max(86_400).default(600),
  CORS_ORIGINS: optionalText,
  CORS_MAX_AGE_S: z.coerce.number().int().min(0).max(86_400).default(600),
  HTTP_HEADERS_TIMEOUT_MS: ms(100, 600_000, 10_000),
  HTTP_REQUEST_TIMEOUT_MS: ms(100, 3_600_000, 30_000),
  MAX_CONNECTIONS: z.coerce.number().int().min(0).max(1_000_000).default(1_000),
  HTTP_FRONT: z.enum(['lean', 'yoga']).default('lean'),
  MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(1_000_000).default(500),
  MAX_SUBSCRIPTIONS_PER_CALLER: z.coerce.number().int().min(1).max(1_000_000).default(20),
  AUTH_FAILURE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
  REFUSAL_LOG_INTERVAL_S: z.coerce.number().int().min(1).max(3_600).default(60),
  TRUSTED_PROXIES: optionalText,
  INTROSPECTION: optionalBool,
  GRAPHIQL: optionalBool,
  MAX_REQUEST_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  METRICS_ENABLED: bool(true),
  METRICS_TOKEN: optionalText,
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.pipe(httpUrl.optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalText.pipe(httpUrl.optional()),
  OTEL_EXPORTER_OTLP_HEADERS: optionalText,
  OTEL_SERVICE_NAME: z.string().min(1).default('npm-axis-gateway'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number({ message: 'must be a number from 0 to 1' }).min(0).max(1).default(1),
  PERSISTED_OPERATIONS_FILE: optionalText,
  PERSISTED_OPERATIONS_ONLY: bool(false),
  MAX_OPERATION_COST: z.coerce.number().int().min(1).max(1_000_000_000).default(50_000),
  MAX_UPSTREAM_CALLS_PER_REQUEST: z.coerce.number().int().min(1).max(100_000).default(50),
  MAX_RESPONSE_ENTITIES: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  UPSTREAM_MAX_CONCURRENCY_PER_REQUEST: z.coerce.number().int().min(1).max(1024).default(16),
  REDIS_URL: optionalText.pipe(
    z.url({ protocol: /^rediss?$/, message: 'must be a redis:// or rediss:// URL' }).optional(),
  ),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{0,64}$/, 'must be up to 64 letters, digits or :._-')
    .default('npm-axis-gateway:'),
});

/** Every variable loadConfig reads (for the documentation check in test/unit/config.test.ts). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type NpmAuthConfig =
  { kind: 'token'; accessToken: string } | { kind: 'password'; username: string; password: string };

export type Role = 'viewer' | 'admin';

export interface ApiKeyConfig {
  /** For the audit log: the name before `=`, or `<role>-key-<n>`. */
  name: string;
  role: Role;
  key: string;
}

export interface AuthConfig {
  apiKeys: ApiKeyConfig[];
  jwt:
    | {
        secret: string | undefined;
        jwksUrl: string | undefined;
        issuer: string | undefined;
        audience: string | undefined;
        rolesClaim: string;
        /** AUTH_JWT_MAX_AGE_S: a token older than this (from `iat`), or without `iat`, is refused. */
        maxAgeS: number | undefined;
      }
    | undefined;
  /** No client auth at all: every caller is an admin. Only by explicit choice (or outside production). */
  disabled: boolean;
}

interface ResilienceConfig {
  /** Per attempt: connect, and headers+body, per upstream. */
  connectTimeoutMs: number;
  npmTimeoutMs: number;
  axisTimeoutMs: number;
  /** Whole GraphQL request: no upstream call outlives it. */
  requestTimeoutMs: number;
  retries: number;
  maxConcurrency: number;
  maxQueue: number;
  breakerThreshold: number;
  breakerHalfOpenMs: number;
}

export interface GatewayConfig {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  resilience: ResilienceConfig;
  auth: AuthConfig;
  /** Requests per second per caller and the burst above it; rps 0 turns the limit off. */
  rateLimit: { rps: number; burst: number };
  idempotencyTtlMs: number;
  /** Origins allowed by CORS; empty means no CORS headers (same-origin and non-browser clients only). */
  corsOrigins: string[];
  /** How long a browser may cache a preflight answer (Access-Control-Max-Age). */
  corsMaxAgeS: number;
  /** The HTTP listener's limits (Node's server.headersTimeout, requestTimeout and maxConnections; 0 = no cap). */
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    maxConnections: number;
    /** `lean`: the common JSON POST skips Yoga's Fetch layer (src/front/lean-front.ts); `yoga`: Yoga serves all. */
    front: 'lean' | 'yoga';
  };
  /** Open subscription streams, in total and per caller (API key name or JWT subject). */
  subscriptions: { max: number; maxPerCaller: number };
  /** Failed authentications per client address per minute before 429; 0 turns the limit off. */
  authFailureLimit: number;
  /** Proxy addresses and CIDR ranges whose X-Forwarded-For is believed; empty = the socket's peer is the client. */
  /** Refusals are logged once per (reason, caller or address) per interval, then counted (src/http/refusal-log.ts). */
  refusalLogIntervalMs: number;
  trustedProxies: string[];
  introspection: boolean;
  graphiql: boolean;
  maxRequestBodyBytes: number;
  shutdownTimeoutMs: number;
  /** `GET /metrics` (Prometheus text); behind `Authorization: Bearer <token>` when a token is set. */
  metrics: { enabled: boolean; token: string | undefined };
  /** OpenTelemetry tracing; undefined (the default) means off, with no tracing code on the request path. */
  tracing: TracingConfig | undefined;
  /** Trusted documents from PERSISTED_OPERATIONS_FILE, checked against the schema at start. */
  persistedOperations?: {
    /** Documents by id (hex SHA-256 of the text). */
    operations: ReadonlyMap<string, string>;
    /** Refuse every operation that is not in the manifest. */
    only: boolean;
  };
  /**
   * Demand control: the largest estimated cost (schema.graphql's @cost/@listSize) an
   * operation may have; a costlier one is refused before execution.
   */
  maxOperationCost: number;
  /** The hard budget of each request at execution (see src/request-budget.ts). */
  requestBudget: BudgetLimits;
  /** How often the azureStatus subscription feed polls NPM `GET /status` while anyone is subscribed. */
  azureStatusPollMs: number;
  /**
   * Shared state for several replicas (rate limit, idempotency, the status poller's lease,
   * the NPM token). Undefined (the default): every store is in memory, one process.
   * The URL may hold a password: never logged.
   */
  redis: { url: string; keyPrefix: string } | undefined;
  npm: {
    baseUrl: string;
    auth: NpmAuthConfig;
    tlsRejectUnauthorized: boolean;
    /** PEM text of extra CAs, read at start from NPM_CA_FILE. */
    ca: string | undefined;
  };
  axis: {
    baseUrl: string;
    apiPrefix: string;
    apiToken: string;
    autoCommit: boolean;
  };
}

export interface TracingConfig {
  /** OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces. */
  tracesUrl: string;
  /** Sent with every export (collector credentials): write-only, never logged. */
  headers: Record<string, string>;
  serviceName: string;
  /** Share of new traces recorded (a caller's sampled `traceparent` is always followed). */
  sampleRatio: number;
}

/** `OTEL_EXPORTER_OTLP_HEADERS="api-key=abc,x-team=web"`, values URL-encoded (the OTel spec's format). */
function parseOtlpHeaders(text: string | undefined, problems: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (text === undefined) return headers;
  text.split(',').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const at = raw.indexOf('=');
    const name = raw.slice(0, at).trim();
    if (at <= 0 || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name))
      return void problems.push(`OTEL_EXPORTER_OTLP_HEADERS entry ${i + 1} must look like name=value`);
    try {
      headers[name.toLowerCase()] = decodeURIComponent(raw.slice(at + 1).trim());
    } catch {
      problems.push(`OTEL_EXPORTER_OTLP_HEADERS entry ${i + 1} has a badly encoded value`);
    }
  });
  return headers;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** NPM takes a static token, or a username and password to log in with. */
function npmAuthProblem(env: Record<string, string | undefined>): string | undefined {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (set('NPM_ACCESS_TOKEN') || (set('NPM_USERNAME') && set('NPM_PASSWORD'))) return undefined;
  const name = set('NPM_USERNAME') ? 'NPM_PASSWORD' : set('NPM_PASSWORD') ? 'NPM_USERNAME' : 'NPM_ACCESS_TOKEN';
  return `${name} set NPM_ACCESS_TOKEN, or NPM_USERNAME and NPM_PASSWORD`;
}

const ROLES: readonly Role[] = ['viewer', 'admin'];
const MIN_KEY_LENGTH = 24;

/**
 * `GATEWAY_API_KEYS="admin:<key>,ci-bot=viewer:<key>"`. Problems name the entry by its
 * position, never by its key.
 */
function parseApiKeys(text: string | undefined, problems: string[]): ApiKeyConfig[] {
  if (text === undefined) return [];
  const keys: ApiKeyConfig[] = [];
  text.split(',').forEach((raw, i) => {
    const entry = raw.trim();
    if (entry === '') return;
    const where = `GATEWAY_API_KEYS entry ${i + 1}`;
    const match = /^(?:([A-Za-z0-9._@-]{1,64})=)?([a-z]+):(.*)$/.exec(entry);
    if (!match) return void problems.push(`${where} must look like role:key or name=role:key`);
    const [, name, role, key = ''] = match;
    if (!ROLES.includes(role as Role)) return void problems.push(`${where} has role "${role}"; use viewer or admin`);
    if (key.length < MIN_KEY_LENGTH || /\s/.test(key))
      return void problems.push(`${where} key must be at least ${MIN_KEY_LENGTH} characters without spaces`);
    keys.push({ name: name ?? `${role}-key-${i + 1}`, role: role as Role, key });
  });
  const names = new Set<string>();
  for (const k of keys) {
    if (names.has(k.name)) problems.push(`GATEWAY_API_KEYS names must be unique; "${k.name}" repeats`);
    names.add(k.name);
  }
  if (new Set(keys.map((k) => k.key)).size !== keys.length) problems.push('GATEWAY_API_KEYS holds the same key twice');
  return keys;
}

/** `TRUSTED_PROXIES="10.0.0.0/8,192.0.2.7,::1"`: addresses or CIDR ranges, IPv4 or IPv6. */
function parseTrustedProxies(text: string | undefined, problems: string[]): string[] {
  if (text === undefined) return [];
  const entries = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const entry of entries) {
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
      problems.push(`TRUSTED_PROXIES entry "${entry}" must be an IP address or a CIDR range such as 10.0.0.0/8`);
  }
  return entries;
}

export function loadConfig(env: Record<string, string | undefined>): GatewayConfig {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const missing = issue.code === 'invalid_type' && env[name] === undefined;
        return `${name} ${missing ? 'is required' : issue.message}`;
      });
  const authProblem = npmAuthProblem(env);
  if (authProblem !== undefined) problems.push(authProblem);
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const apiKeys = parseApiKeys(e.GATEWAY_API_KEYS, problems);
  if (e.AUTH_JWT_SECRET !== undefined && e.AUTH_JWT_SECRET.length < 32)
    problems.push('AUTH_JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit secret)');
  const jwtConfigured = e.AUTH_JWT_SECRET !== undefined || e.AUTH_JWKS_URL !== undefined;
  if (!jwtConfigured && (e.AUTH_JWT_ISSUER !== undefined || e.AUTH_JWT_AUDIENCE !== undefined))
    problems.push('AUTH_JWT_ISSUER/AUTH_JWT_AUDIENCE need AUTH_JWT_SECRET or AUTH_JWKS_URL');
  if (!jwtConfigured && e.AUTH_JWT_MAX_AGE_S !== undefined)
    problems.push('AUTH_JWT_MAX_AGE_S needs AUTH_JWT_SECRET or AUTH_JWKS_URL');
  const anyAuth = apiKeys.length > 0 || jwtConfigured;
  if (e.NODE_ENV === 'production' && !anyAuth && !e.AUTH_DISABLED)
    problems.push(
      'no client auth configured: set GATEWAY_API_KEYS and/or AUTH_JWT_SECRET or AUTH_JWKS_URL (or AUTH_DISABLED=true to run open, which is not recommended)',
    );
  const corsOrigins = (e.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin))
      problems.push(`CORS_ORIGINS entry "${origin}" must be an origin such as https://app.example.com`);
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS)
    problems.push('HTTP_HEADERS_TIMEOUT_MS must not be larger than HTTP_REQUEST_TIMEOUT_MS');
  const trustedProxies = parseTrustedProxies(e.TRUSTED_PROXIES, problems);
  if (e.METRICS_TOKEN !== undefined && (e.METRICS_TOKEN.length < 16 || /\s/.test(e.METRICS_TOKEN)))
    problems.push('METRICS_TOKEN must be at least 16 characters without spaces');
  const otlpHeaders = parseOtlpHeaders(e.OTEL_EXPORTER_OTLP_HEADERS, problems);
  // The spec's rule: the generic endpoint gets the signal's path appended, the per-signal one is used as is.
  const tracesUrl =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces` : undefined);
  if (e.PERSISTED_OPERATIONS_ONLY && e.PERSISTED_OPERATIONS_FILE === undefined)
    problems.push(
      'PERSISTED_OPERATIONS_ONLY=true needs PERSISTED_OPERATIONS_FILE (the manifest of allowed operations)',
    );
  const persisted =
    e.PERSISTED_OPERATIONS_FILE === undefined ? undefined : loadPersistedOperations(e.PERSISTED_OPERATIONS_FILE);
  if (persisted) problems.push(...persisted.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  let ca: string | undefined;
  if (e.NPM_CA_FILE !== undefined) {
    try {
      ca = readFileSync(e.NPM_CA_FILE, 'utf8');
    } catch {
      throw new ConfigError([`NPM_CA_FILE cannot be read: ${e.NPM_CA_FILE}`]);
    }
  }
  const production = e.NODE_ENV === 'production';
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    resilience: {
      connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      npmTimeoutMs: e.NPM_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS,
      axisTimeoutMs: e.AXIS_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      retries: e.UPSTREAM_RETRIES,
      maxConcurrency: e.UPSTREAM_MAX_CONCURRENCY,
      maxQueue: e.UPSTREAM_MAX_QUEUE,
      breakerThreshold: e.BREAKER_THRESHOLD,
      breakerHalfOpenMs: e.BREAKER_HALF_OPEN_MS,
    },
    auth: {
      apiKeys,
      jwt: jwtConfigured
        ? {
            secret: e.AUTH_JWT_SECRET,
            jwksUrl: e.AUTH_JWKS_URL,
            issuer: e.AUTH_JWT_ISSUER,
            audience: e.AUTH_JWT_AUDIENCE,
            rolesClaim: e.AUTH_ROLES_CLAIM,
            maxAgeS: e.AUTH_JWT_MAX_AGE_S,
          }
        : undefined,
      disabled: e.AUTH_DISABLED || !anyAuth,
    },
    rateLimit: { rps: e.RATE_LIMIT_RPS, burst: e.RATE_LIMIT_BURST ?? Math.ceil(e.RATE_LIMIT_RPS * 2) },
    idempotencyTtlMs: e.IDEMPOTENCY_TTL_S * 1000,
    corsOrigins,
    corsMaxAgeS: e.CORS_MAX_AGE_S,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: e.MAX_CONNECTIONS,
      front: e.HTTP_FRONT,
    },
    subscriptions: { max: e.MAX_SUBSCRIPTIONS, maxPerCaller: e.MAX_SUBSCRIPTIONS_PER_CALLER },
    authFailureLimit: e.AUTH_FAILURE_LIMIT,
    refusalLogIntervalMs: e.REFUSAL_LOG_INTERVAL_S * 1000,
    trustedProxies,
    introspection: e.INTROSPECTION ?? !production,
    graphiql: e.GRAPHIQL ?? !production,
    maxRequestBodyBytes: e.MAX_REQUEST_BODY_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    metrics: { enabled: e.METRICS_ENABLED, token: e.METRICS_TOKEN },
    tracing:
      tracesUrl === undefined
        ? undefined
        : {
            tracesUrl,
            headers: otlpHeaders,
            serviceName: e.OTEL_SERVICE_NAME,
            sampleRatio: e.OTEL_TRACES_SAMPLER_ARG,
          },
    ...(persisted
      ? { persistedOperations: { operations: persisted.operations, only: e.PERSISTED_OPERATIONS_ONLY } }
      : {}),
    azureStatusPollMs: e.AZURE_STATUS_POLL_MS,
    maxOperationCost: e.MAX_OPERATION_COST,
    requestBudget: {
      maxUpstreamCalls: e.MAX_UPSTREAM_CALLS_PER_REQUEST,
      maxEntities: e.MAX_RESPONSE_ENTITIES,
      maxConcurrentCalls: e.UPSTREAM_MAX_CONCURRENCY_PER_REQUEST,
    },
    redis: e.REDIS_URL === undefined ? undefined : { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    npm: {
      baseUrl: e.NPM_BASE_URL,
      auth:
        e.NPM_ACCESS_TOKEN !== undefined
          ? { kind: 'token', accessToken: e.NPM_ACCESS_TOKEN }
          : { kind: 'password', username: e.NPM_USERNAME ?? '', password: e.NPM_PASSWORD ?? '' },
      tlsRejectUnauthorized: e.NPM_TLS_REJECT_UNAUTHORIZED,
      ca,
    },
    axis: {
      baseUrl: e.AXIS_BASE_URL,
      apiPrefix: e.AXIS_API_PREFIX,
      apiToken: e.AXIS_API_TOKEN,
      autoCommit: e.AXIS_AUTO_COMMIT,
    },
  };
}
