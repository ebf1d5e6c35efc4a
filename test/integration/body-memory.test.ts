import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import { sendBody } from '../helpers/raw-http.js';
import type { RawResult } from '../helpers/raw-http.js';

const KEY = 'body-memory-admin-key-0123456789abcdef';
const MB = 1024 * 1024;

/** The child's resident memory now and at its peak (Linux /proc), in MB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function health(url: string): Promise<number> {
  const res = await request(`${url}/health`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  await res.body.text();
  return res.statusCode;
}

/**
 * Issue 11's body attacks, against the gateway in its own process (src/main.ts, production
 * settings) so its memory is measured alone: 200 MB bodies, declared and chunked, on the side
 * doors Yoga would serve (`/graphql/`, `/x/graphql`) and on the endpoint without a credential.
 * Before: 200 MB unauthenticated on `/graphql/` took RSS from 341 to 785 MB.
 */
describe('big bodies: refused before they are read, memory bounded (child gateway process)', () => {
  const npmSim = createNpmSimulator({ username: 'admin', password: 'pw-body-memory' });
  const axisSim = createAxisSimulator({ tokens: { 'axis-body-memory-token': 'rw' } });
  let child: ChildProcess;
  let url: string;
  beforeAll(async () => {
    const [npmUrl, axisUrl] = await Promise.all([npmSim.start(0), axisSim.start(0)]);
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        NODE_ENV: 'production',
        PORT: '0',
        HOST: '127.0.0.1',
        NPM_BASE_URL: npmUrl,
        NPM_USERNAME: 'admin',
        NPM_PASSWORD: 'pw-body-memory',
        AXIS_BASE_URL: axisUrl,
        AXIS_API_TOKEN: 'axis-body-memory-token',
        GATEWAY_API_KEYS: `ops=admin:${KEY}`,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const listening = () => /gateway listening on (http:\/\/\S+)\/graphql/.exec(log)?.[1];
    for (let waited = 0; listening() === undefined && waited < 20_000; waited += 100)
      await new Promise((resolve) => setTimeout(resolve, 100));
    if (listening() === undefined) throw new Error(`the gateway did not start: ${log}`);
    url = listening()!;
  }, 30_000);
  afterAll(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await Promise.all([npmSim.stop(), axisSim.stop()]);
  });

  it('each attack is answered with its code, /health answers throughout, and peak RSS grows by less than 100 MB', async () => {
    const pid = child.pid!;
    // Warm up: a real query, so the baseline includes a served request.
    const warm = await request(`${url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ users(pageSize: 5) { totalRecords } }' }),
    });
    expect(warm.statusCode).toBe(200);
    await warm.body.text();
    const before = memoryOf(pid);
    const attacks: Array<{ name: string; run: () => Promise<RawResult>; status: number }> = [
      {
        name: '200 MB on /graphql/',
        run: () => sendBody(url, { path: '/graphql/', totalBytes: 200 * MB }),
        status: 404,
      },
      {
        name: '200 MB on /x/graphql',
        run: () => sendBody(url, { path: '/x/graphql', totalBytes: 200 * MB }),
        status: 404,
      },
      {
        name: '200 MB chunked on /graphql/',
        run: () => sendBody(url, { path: '/graphql/', totalBytes: 200 * MB, chunked: true }),
        status: 404,
      },
      {
        name: '200 MB chunked with a credential on /graphql',
        run: () =>
          sendBody(url, {
            path: '/graphql',
            headers: { authorization: `Bearer ${KEY}` },
            totalBytes: 200 * MB,
            chunked: true,
          }),
        status: 413,
      },
      {
        name: '200 MB without a credential on /graphql',
        run: () => sendBody(url, { path: '/graphql', totalBytes: 200 * MB }),
        status: 401,
      },
      {
        name: '200 MB chunked without a credential on /graphql',
        run: () => sendBody(url, { path: '/graphql', totalBytes: 200 * MB, chunked: true }),
        status: 401,
      },
    ];
    const seen: Record<string, { status: number | undefined; sentMB: number }> = {};
    for (const attack of attacks) {
      const [result, probe] = await Promise.all([attack.run(), health(url)]);
      expect(result.status, attack.name).toBe(attack.status);
      expect(probe, attack.name).toBe(200);
      seen[attack.name] = { status: result.status, sentMB: Math.round(result.bytesSent / MB) };
    }
    // Four bodies of 300 MB at once on the side door (before: peak 2.5 GB).
    const four = await Promise.all([
      ...Array.from({ length: 4 }, () => sendBody(url, { path: '/graphql/', totalBytes: 300 * MB, chunked: true })),
      health(url),
    ]);
    for (const r of four.slice(0, 4)) expect((r as RawResult).status).toBe(404);
    expect(four[4]).toBe(200);
    const after = memoryOf(pid);
    console.info('body attacks, child RSS MB', { before, after, seen });
    expect(after.peak - before.rss).toBeLessThan(100);
    expect(await health(url)).toBe(200);
  }, 120_000);
});
