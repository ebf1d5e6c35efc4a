import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { http } from './http.js';

const MAIN = fileURLToPath(new URL('../../simulators/main.ts', import.meta.url));

const children = new Set<ChildProcess>();

/** Runs main.ts with tsx, the way `tsx simulators/main.ts` does. */
function run(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function readLines(child: ChildProcess, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n').filter((l) => l !== '');
      if (lines.length >= count) {
        child.stdout?.off('data', onData);
        resolve(lines.slice(0, count));
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing ${count} lines: ${buffer}`)));
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('simulators entry point (main.ts)', () => {
  it('starts both simulators, prints one line each with its URL, and exits 0 on SIGTERM', async () => {
    const child = run({ NPM_SIM_PORT: '0', AXIS_SIM_PORT: '0' });
    const exited = exitOf(child);
    const lines = await readLines(child, 2);
    const npmUrl = /npm-sim listening on (http:\/\/\S+)/.exec(lines[0] ?? '')?.[1];
    const axisUrl = /axis-sim listening on (http:\/\/\S+)/.exec(lines[1] ?? '')?.[1];
    expect(npmUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(axisUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const login = await http(npmUrl ?? '', 'POST', '/api/mgmt.aaa/1.0/token', {
      json: { user_credentials: { username: 'admin', password: 'demo-npm-password' }, generate_refresh_token: false },
    });
    expect(login.status).toBe(201);
    expect((await http(axisUrl ?? '', 'GET', '/api/v1/users/u-0001', { token: 'demo-axis-rw-token' })).status).toBe(
      200,
    );

    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  }, 20_000);

  it('starts only the NPM simulator with SIM_ONLY=npm and takes credentials from the environment', async () => {
    const child = run({ NPM_SIM_PORT: '0', SIM_ONLY: 'npm', NPM_SIM_PASSWORD: 'from-env' });
    const exited = exitOf(child);
    const [line] = await readLines(child, 1);
    const npmUrl = /npm-sim listening on (\S+)/.exec(line ?? '')?.[1] ?? '';
    const login = await http(npmUrl, 'POST', '/api/mgmt.aaa/1.0/token', {
      json: { user_credentials: { username: 'admin', password: 'from-env' }, generate_refresh_token: false },
    });
    expect(login.status).toBe(201);
    child.kill('SIGINT');
    const { code } = await exited;
    expect(code).toBe(0);
  }, 20_000);

  it('exits 1 listing every configuration problem', async () => {
    const child = run({ NPM_SIM_PORT: 'x', SIM_ONLY: 'both' });
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(1);
    expect(stderr).toContain('NPM_SIM_PORT');
    expect(stderr).toContain('SIM_ONLY');
  }, 20_000);
});
