import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';

/** The gateway as users run it: its own process, configured by environment variables only. */
function startMain(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function output(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('the gateway process', () => {
  it('refuses to start on bad configuration, naming each variable on its own line', async () => {
    const { code, stderr, stdout } = await output(startMain({ PORT: 'x', AXIS_AUTO_COMMIT: 'perhaps' }));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^config error: PORT /),
        'config error: NPM_BASE_URL is required',
        'config error: AXIS_API_TOKEN is required',
        expect.stringMatching(/^config error: AXIS_AUTO_COMMIT must be true or false/),
        'config error: NPM_ACCESS_TOKEN set NPM_ACCESS_TOKEN, or NPM_USERNAME and NPM_PASSWORD',
      ]),
    );
    expect(stdout).toBe('');
  });

  describe('with upstreams', () => {
    const npmSim = createNpmSimulator({ username: 'admin', password: 'pw-process-test' });
    const axisSim = createAxisSimulator({ tokens: { 'axis-process-token': 'rw' } });
    let env: Record<string, string>;
    beforeAll(async () => {
      const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
      env = {
        PORT: '0',
        HOST: '127.0.0.1',
        NPM_BASE_URL: npmUrl,
        NPM_USERNAME: 'admin',
        NPM_PASSWORD: 'pw-process-test',
        AXIS_BASE_URL: axisUrl,
        AXIS_API_TOKEN: 'axis-process-token',
      };
    });
    afterAll(async () => {
      await Promise.all([npmSim.stop(), axisSim.stop()]);
    });

    it('serves /health and GraphQL, and exits 0 on SIGTERM', async () => {
      const child = startMain(env);
      const done = output(child);
      let url: string | undefined;
      let log = '';
      child.stdout?.on('data', (d: Buffer) => {
        log += d.toString();
        url ??= /gateway listening on (http:\/\/\S+)\/graphql/.exec(log)?.[1];
      });
      await expect.poll(() => url, { timeout: 15_000 }).toBeDefined();
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ azureStatus { state } users(pageSize: 1) { totalRecords } }' }),
      });
      expect(await res.json()).toEqual({
        data: { azureStatus: { state: 'SYNC_SUCCEEDED' }, users: { totalRecords: 120 } },
      });
      child.kill('SIGTERM');
      const { code, stdout } = await done;
      expect(code).toBe(0);
      expect(stdout).toContain('"msg":"stopped"');
      expect(stdout).not.toContain('pw-process-test');
      expect(stdout).not.toContain('axis-process-token');
    });
  });
});
