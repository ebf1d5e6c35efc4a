import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

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
      upstreamTimeoutMs: 10_000,
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
