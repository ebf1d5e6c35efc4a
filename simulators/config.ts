/**
 * Environment of the simulator entry point (main.ts), validated once with zod;
 * every problem is reported together. The gateway has its own config.ts: the
 * simulators are a separate program (docker-compose runs them as two services).
 *
 * Empty variables count as unset, because compose files often pass `FOO=`.
 */
import { z } from 'zod';
import type { AxisSimulatorOptions, AxisTokenScope } from './axis-sim.js';
import type { NpmSimulatorOptions } from './npm-sim.js';

interface SimConfig {
  readonly host: string;
  readonly only: 'npm' | 'axis' | undefined;
  readonly npm: { readonly port: number; readonly options: NpmSimulatorOptions };
  readonly axis: { readonly port: number; readonly options: AxisSimulatorOptions };
}

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const envSchema = z.object({
  SIM_HOST: z.string().default('127.0.0.1'),
  SIM_ONLY: z.enum(['npm', 'axis']).optional(),
  SIM_LOG: flag.default(false),
  NPM_SIM_PORT: port.default(4010),
  NPM_SIM_USERNAME: z.string().default('admin'),
  NPM_SIM_PASSWORD: z.string().default('demo-npm-password'),
  /** Comma-separated tokens accepted without login. */
  NPM_SIM_STATIC_TOKENS: z.string().optional(),
  NPM_SIM_TOKEN_TTL_SECONDS: positiveInt.default(900),
  NPM_SIM_ENABLED_FORMAT: z.enum(['boolean', 'ENABLED', 'true']).default('boolean'),
  NPM_SIM_SYNC_DURATION_MS: nonNegativeInt.default(300),
  AXIS_SIM_PORT: port.default(4020),
  AXIS_SIM_PREFIX: z.string().regex(/^\//, 'must start with /').default('/api/v1'),
  AXIS_SIM_RW_TOKEN: z.string().min(1).default('demo-axis-rw-token'),
  AXIS_SIM_RO_TOKEN: z.string().min(1).default('demo-axis-ro-token'),
  AXIS_SIM_READONLY_WRITE_STATUS: z.enum(['401', '403']).default('401'),
  AXIS_SIM_SEED_USERS: nonNegativeInt.max(100_000).default(120),
  AXIS_SIM_SEED_GROUPS: nonNegativeInt.max(10_000).default(12),
});

export type SimConfigResult = { ok: true; config: SimConfig } | { ok: false; problems: string[] };

export function loadSimConfig(env: Readonly<Record<string, string | undefined>>): SimConfigResult {
  const present: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') present[key] = value.trim();
  }
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    // Values are never echoed: some of these variables are credentials.
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`) };
  }
  const e = parsed.data;
  const staticTokens = (e.NPM_SIM_STATIC_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const tokens: Record<string, AxisTokenScope> = { [e.AXIS_SIM_RW_TOKEN]: 'rw', [e.AXIS_SIM_RO_TOKEN]: 'ro' };
  return {
    ok: true,
    config: {
      host: e.SIM_HOST,
      only: e.SIM_ONLY,
      npm: {
        port: e.NPM_SIM_PORT,
        options: {
          username: e.NPM_SIM_USERNAME,
          password: e.NPM_SIM_PASSWORD,
          staticTokens,
          tokenTtlSeconds: e.NPM_SIM_TOKEN_TTL_SECONDS,
          enabledFormat: e.NPM_SIM_ENABLED_FORMAT,
          syncDurationMs: e.NPM_SIM_SYNC_DURATION_MS,
          log: e.SIM_LOG,
        },
      },
      axis: {
        port: e.AXIS_SIM_PORT,
        options: {
          prefix: e.AXIS_SIM_PREFIX,
          tokens,
          readOnlyWriteStatus: e.AXIS_SIM_READONLY_WRITE_STATUS === '403' ? 403 : 401,
          seedUsers: e.AXIS_SIM_SEED_USERS,
          seedGroups: e.AXIS_SIM_SEED_GROUPS,
          log: e.SIM_LOG,
        },
      },
    },
  };
}
