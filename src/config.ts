import { readFileSync } from 'node:fs';
import { z } from 'zod';

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

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

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
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
});

export type NpmAuthConfig =
  { kind: 'token'; accessToken: string } | { kind: 'password'; username: string; password: string };

export interface GatewayConfig {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  upstreamTimeoutMs: number;
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
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  let ca: string | undefined;
  if (e.NPM_CA_FILE !== undefined) {
    try {
      ca = readFileSync(e.NPM_CA_FILE, 'utf8');
    } catch {
      throw new ConfigError([`NPM_CA_FILE cannot be read: ${e.NPM_CA_FILE}`]);
    }
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
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
