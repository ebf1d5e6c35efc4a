import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';

const base = {
  NPM_BASE_URL: 'https://npm.example.com/',
  NPM_ACCESS_TOKEN: 'npm-token',
  AXIS_API_TOKEN: 'axis-token',
};

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      port: 4000,
      host: '0.0.0.0',
      logLevel: 'info',
      resilience: { npmTimeoutMs: 10_000, axisTimeoutMs: 10_000 },
      npm: {
        baseUrl: 'https://npm.example.com',
        auth: { kind: 'token', accessToken: 'npm-token' },
        tlsRejectUnauthorized: true,
      },
      axis: { baseUrl: 'https://admin-api.axissecurity.com', apiPrefix: '/api/v1', autoCommit: true },
    });
  });

  it('uses username and password when no static token is set', () => {
    const config = loadConfig({ ...base, NPM_ACCESS_TOKEN: '', NPM_USERNAME: 'admin', NPM_PASSWORD: 'pw' });
    expect(config.npm.auth).toEqual({ kind: 'password', username: 'admin', password: 'pw' });
  });

  it('reads booleans and the Axis prefix', () => {
    const config = loadConfig({
      ...base,
      AXIS_AUTO_COMMIT: 'false',
      NPM_TLS_REJECT_UNAUTHORIZED: 'false',
      AXIS_API_PREFIX: '/api/v1.0/',
    });
    expect(config.axis.autoCommit).toBe(false);
    expect(config.npm.tlsRejectUnauthorized).toBe(false);
    expect(config.axis.apiPrefix).toBe('/api/v1.0');
  });

  it('names every bad variable at once', () => {
    const found = problems({
      PORT: 'eighty',
      NPM_BASE_URL: 'ftp://x',
      AXIS_AUTO_COMMIT: 'maybe',
      UPSTREAM_TIMEOUT_MS: '5',
    });
    const names = found.map((p) => p.split(' ')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'PORT',
        'NPM_BASE_URL',
        'AXIS_AUTO_COMMIT',
        'UPSTREAM_TIMEOUT_MS',
        'AXIS_API_TOKEN',
        'NPM_ACCESS_TOKEN',
      ]),
    );
    expect(found.find((p) => p.startsWith('AXIS_API_TOKEN'))).toBe('AXIS_API_TOKEN is required');
  });

  it('asks for the missing half of username and password', () => {
    expect(problems({ ...base, NPM_ACCESS_TOKEN: undefined, NPM_USERNAME: 'admin' })).toEqual([
      'NPM_PASSWORD set NPM_ACCESS_TOKEN, or NPM_USERNAME and NPM_PASSWORD',
    ]);
  });

  it('refuses an unreadable CA file', () => {
    expect(problems({ ...base, NPM_CA_FILE: '/nonexistent/ca.pem' })).toEqual([
      'NPM_CA_FILE cannot be read: /nonexistent/ca.pem',
    ]);
  });
});

describe('client auth and abuse settings', () => {
  const KEY = 'k'.repeat(24);

  it('refuses to start in production with no client auth, naming the settings', () => {
    const found = problems({ ...base, NODE_ENV: 'production' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/no client auth configured: set GATEWAY_API_KEYS/);
  });

  it('starts in production with AUTH_DISABLED=true (open on purpose), or with keys or a JWT secret', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'production', AUTH_DISABLED: 'true' }).auth.disabled).toBe(true);
    expect(loadConfig({ ...base, NODE_ENV: 'production', GATEWAY_API_KEYS: `admin:${KEY}` }).auth.disabled).toBe(false);
    expect(loadConfig({ ...base, NODE_ENV: 'production', AUTH_JWT_SECRET: 's'.repeat(32) }).auth.disabled).toBe(false);
  });

  it('development with nothing configured runs open (the gateway warns at start)', () => {
    expect(loadConfig(base).auth.disabled).toBe(true);
  });

  it('parses named and unnamed API keys', () => {
    const config = loadConfig({ ...base, GATEWAY_API_KEYS: ` ci-bot=admin:${KEY}, viewer:${'v'.repeat(30)} ` });
    expect(config.auth.apiKeys).toEqual([
      { name: 'ci-bot', role: 'admin', key: KEY },
      { name: 'viewer-key-2', role: 'viewer', key: 'v'.repeat(30) },
    ]);
  });

  it('reports bad API key entries by position, never echoing a key', () => {
    const found = problems({
      ...base,
      GATEWAY_API_KEYS: `root:${KEY},admin:short-secret-1,nonsense,a=viewer:${KEY}x,a=viewer:${KEY}y`,
    });
    expect(found).toEqual([
      'GATEWAY_API_KEYS entry 1 has role "root"; use viewer or admin',
      'GATEWAY_API_KEYS entry 2 key must be at least 24 characters without spaces',
      'GATEWAY_API_KEYS entry 3 must look like role:key or name=role:key',
      'GATEWAY_API_KEYS names must be unique; "a" repeats',
    ]);
    expect(found.join(' ')).not.toContain('short-secret-1');
  });

  it('reads the HTTP front settings, with their defaults', () => {
    expect(loadConfig(base)).toMatchObject({
      corsMaxAgeS: 600,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1_000 },
      subscriptions: { max: 500, maxPerCaller: 20 },
      authFailureLimit: 30,
      trustedProxies: [],
    });
    const config = loadConfig({
      ...base,
      CORS_MAX_AGE_S: '0',
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '5000',
      MAX_CONNECTIONS: '0',
      MAX_SUBSCRIPTIONS: '50',
      MAX_SUBSCRIPTIONS_PER_CALLER: '2',
      AUTH_FAILURE_LIMIT: '0',
      TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7,fd00::/8',
    });
    expect(config).toMatchObject({
      corsMaxAgeS: 0,
      http: { headersTimeoutMs: 2_000, requestTimeoutMs: 5_000, maxConnections: 0 },
      subscriptions: { max: 50, maxPerCaller: 2 },
      authFailureLimit: 0,
      trustedProxies: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8'],
    });
  });

  it('names bad HTTP front settings together', () => {
    expect(
      problems({
        ...base,
        HTTP_HEADERS_TIMEOUT_MS: '60000',
        HTTP_REQUEST_TIMEOUT_MS: '30000',
        TRUSTED_PROXIES: '10.0.0.0/33,proxy.internal,192.0.2.1',
        MAX_SUBSCRIPTIONS_PER_CALLER: '0',
      }),
    ).toEqual([expect.stringMatching(/^MAX_SUBSCRIPTIONS_PER_CALLER /)]);
    expect(
      problems({ ...base, HTTP_HEADERS_TIMEOUT_MS: '60000', TRUSTED_PROXIES: '10.0.0.0/33,proxy.internal,192.0.2.1' }),
    ).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS must not be larger than HTTP_REQUEST_TIMEOUT_MS',
      'TRUSTED_PROXIES entry "10.0.0.0/33" must be an IP address or a CIDR range such as 10.0.0.0/8',
      'TRUSTED_PROXIES entry "proxy.internal" must be an IP address or a CIDR range such as 10.0.0.0/8',
    ]);
  });

  it('checks JWT, CORS and rate-limit settings', () => {
    expect(problems({ ...base, RATE_LIMIT_RPS: '-1' })).toEqual([expect.stringMatching(/^RATE_LIMIT_RPS /)]);
    expect(
      problems({ ...base, AUTH_JWT_SECRET: 'too-short', CORS_ORIGINS: 'https://app.example.com,app.example.com/path' }),
    ).toEqual([
      'AUTH_JWT_SECRET must be at least 32 characters (HS256 needs a 256-bit secret)',
      'CORS_ORIGINS entry "app.example.com/path" must be an origin such as https://app.example.com',
    ]);
  });

  it('defaults: introspection and GraphiQL on outside production, off in it; burst twice the rate', () => {
    const dev = loadConfig(base);
    expect(dev).toMatchObject({ introspection: true, graphiql: true, rateLimit: { rps: 50, burst: 100 } });
    const prod = loadConfig({ ...base, NODE_ENV: 'production', GATEWAY_API_KEYS: `admin:${KEY}` });
    expect(prod).toMatchObject({ introspection: false, graphiql: false, idempotencyTtlMs: 600_000 });
    expect(prod.resilience).toEqual({
      connectTimeoutMs: 3_000,
      npmTimeoutMs: 10_000,
      axisTimeoutMs: 10_000,
      requestTimeoutMs: 25_000,
      retries: 2,
      maxConcurrency: 64,
      maxQueue: 1_000,
      breakerThreshold: 5,
      breakerHalfOpenMs: 5_000,
    });
  });

  it('persisted operations: off unless PERSISTED_OPERATIONS_FILE is set; the manifest is loaded at start', () => {
    expect(loadConfig(base).persistedOperations).toBeUndefined();
    const manifest = fileURLToPath(new URL('../../persisted-operations.json', import.meta.url));
    const config = loadConfig({ ...base, PERSISTED_OPERATIONS_FILE: manifest });
    expect(config.persistedOperations?.only).toBe(false);
    expect(config.persistedOperations?.operations.size).toBeGreaterThanOrEqual(15);
    expect(
      loadConfig({ ...base, PERSISTED_OPERATIONS_FILE: manifest, PERSISTED_OPERATIONS_ONLY: 'true' }),
    ).toMatchObject({ persistedOperations: { only: true } });
  });

  it('persisted operations: only-mode needs a manifest, and manifest problems are listed with the others', () => {
    expect(problems({ ...base, PERSISTED_OPERATIONS_ONLY: 'true' })).toEqual([
      'PERSISTED_OPERATIONS_ONLY=true needs PERSISTED_OPERATIONS_FILE (the manifest of allowed operations)',
    ]);
    const bad = join(mkdtempSync(join(tmpdir(), 'config-')), 'manifest.json');
    writeFileSync(bad, JSON.stringify({ ['0'.repeat(64)]: '{ azureStatus { state } }' }));
    expect(problems({ ...base, PERSISTED_OPERATIONS_FILE: bad, CORS_ORIGINS: 'nope' })).toEqual([
      'CORS_ORIGINS entry "nope" must be an origin such as https://app.example.com',
      `PERSISTED_OPERATIONS_FILE ${bad}: operation "${'0'.repeat(64)}": the id is not the SHA-256 of the document (regenerate the manifest)`,
    ]);
    expect(problems({ ...base, PERSISTED_OPERATIONS_FILE: `${bad}.missing` })).toEqual([
      `PERSISTED_OPERATIONS_FILE ${bad}.missing cannot be read`,
    ]);
  });
});

describe('observability settings', () => {
  it('defaults: /metrics on and open, tracing off', () => {
    expect(loadConfig(base)).toMatchObject({ metrics: { enabled: true, token: undefined }, tracing: undefined });
  });

  it('derives the OTLP traces URL the way the OpenTelemetry spec says, and parses exporter headers', () => {
    expect(
      loadConfig({
        ...base,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%2Cb%3D1, X-Team = web',
      }).tracing,
    ).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      headers: { 'api-key': 'a,b=1', 'x-team': 'web' },
      serviceName: 'npm-axis-gateway',
      sampleRatio: 1,
    });
    expect(
      loadConfig({
        ...base,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).tracing,
    ).toMatchObject({ tracesUrl: 'https://traces.example.com/otlp', sampleRatio: 0.25 });
  });

  it('names bad observability settings, never echoing a token or header value', () => {
    const found = problems({
      ...base,
      METRICS_TOKEN: 'short',
      METRICS_ENABLED: 'maybe',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_TRACES_SAMPLER_ARG: '2',
    });
    expect(found).toEqual([
      expect.stringMatching(/^METRICS_ENABLED /),
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT /),
      expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG /),
    ]);
    expect(problems({ ...base, METRICS_TOKEN: 'short', OTEL_EXPORTER_OTLP_HEADERS: 'novalue,=x' })).toEqual([
      'METRICS_TOKEN must be at least 16 characters without spaces',
      'OTEL_EXPORTER_OTLP_HEADERS entry 1 must look like name=value',
      'OTEL_EXPORTER_OTLP_HEADERS entry 2 must look like name=value',
    ]);
  });
});

describe('documentation of the settings', () => {
  const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

  it('.env.example and the README Configuration table name every variable loadConfig reads', () => {
    const example = read('.env.example');
    const readme = read('README.md');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Security'));
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(40);
    for (const name of CONFIG_VARIABLES) {
      expect(example, `.env.example lacks ${name}`).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(table, `README Configuration lacks ${name}`).toContain(`\`${name}\``);
    }
  });
});
