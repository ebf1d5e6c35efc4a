import { describe, expect, it } from 'vitest';
import { loadSimConfig } from '../../simulators/config.js';

describe('loadSimConfig', () => {
  it('uses the demo defaults when nothing is set', () => {
    const result = loadSimConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({
      host: '127.0.0.1',
      only: undefined,
      npm: {
        port: 4010,
        options: { username: 'admin', password: 'demo-npm-password', staticTokens: [], enabledFormat: 'boolean' },
      },
      axis: {
        port: 4020,
        options: {
          prefix: '/api/v1',
          tokens: { 'demo-axis-rw-token': 'rw', 'demo-axis-ro-token': 'ro' },
          readOnlyWriteStatus: 401,
        },
      },
    });
  });

  it('reads ports, host, SIM_ONLY, credentials and tokens, treating empty values as unset', () => {
    const result = loadSimConfig({
      NPM_SIM_PORT: '5010',
      AXIS_SIM_PORT: '0',
      SIM_HOST: '0.0.0.0',
      SIM_ONLY: 'axis',
      NPM_SIM_PASSWORD: '',
      NPM_SIM_STATIC_TOKENS: ' a, b ,,',
      AXIS_SIM_RW_TOKEN: 'rw-x',
      AXIS_SIM_READONLY_WRITE_STATUS: '403',
      AXIS_SIM_PREFIX: '/api/v1.0',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.host).toBe('0.0.0.0');
    expect(result.config.only).toBe('axis');
    expect(result.config.npm.port).toBe(5010);
    expect(result.config.axis.port).toBe(0);
    expect(result.config.npm.options.password).toBe('demo-npm-password');
    expect(result.config.npm.options.staticTokens).toEqual(['a', 'b']);
    expect(result.config.axis.options.tokens).toEqual({ 'rw-x': 'rw', 'demo-axis-ro-token': 'ro' });
    expect(result.config.axis.options.readOnlyWriteStatus).toBe(403);
    expect(result.config.axis.options.prefix).toBe('/api/v1.0');
  });

  it('lists every problem at once without echoing values', () => {
    const result = loadSimConfig({
      NPM_SIM_PORT: '70000',
      SIM_ONLY: 'both',
      AXIS_SIM_PREFIX: 'api',
      NPM_SIM_ENABLED_FORMAT: 'yes-secret',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'AXIS_SIM_PREFIX',
      'NPM_SIM_ENABLED_FORMAT',
      'NPM_SIM_PORT',
      'SIM_ONLY',
    ]);
    expect(result.problems.join('\n')).not.toContain('yes-secret');
  });
});
