import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startProductionGateway } from '../helpers/stack.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** The production server (startGateway, as main.ts runs it) against the two simulators. */
async function boot(env: Record<string, string> = {}) {
  const running = await startProductionGateway(env);
  cleanups.push(() => running.stopSimulators());
  let closed = false;
  cleanups.push(async () => {
    if (!closed) await running.gateway.close(100);
  });
  const markClosed = () => (closed = true);
  return { ...running, markClosed };
}

async function get(url: string) {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

function query(url: string, q: string) {
  return request(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query: q }),
  }).then(async (r) => ({ status: r.statusCode, body: JSON.parse(await r.body.text()) as Record<string, unknown> }));
}

describe('GET /ready', () => {
  it('is 200 while both upstreams answer, with one cheap read each, cached between polls', async () => {
    const { gateway, npmSim, axisSim } = await boot();
    expect(await get(`${gateway.url}/ready`)).toEqual({ status: 200, body: '{"status":"ready"}' });
    await get(`${gateway.url}/ready`);
    await get(`${gateway.url}/ready`);
    expect(npmSim.counts()['status.get']).toBe(1);
    expect(axisSim.counts()['users.list']).toBe(1);
  });

  it('is 503 with a generic body while an upstream is unreachable; /health stays 200', async () => {
    const { gateway, axisSim } = await boot();
    await axisSim.stop();
    const ready = await get(`${gateway.url}/ready`);
    expect(ready).toEqual({ status: 503, body: '{"status":"unavailable"}' });
    expect((await get(`${gateway.url}/health`)).status).toBe(200);
  });

  it('is 200 when an upstream answers 4xx (it is there; the credentials are a different alarm)', async () => {
    const { gateway, axisSim } = await boot();
    axisSim.addFault({ route: 'users.list', action: { type: 'error', status: 401 } });
    expect((await get(`${gateway.url}/ready`)).status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('lets in-flight requests finish, refuses new connections, then closes', async () => {
    const { gateway, npmSim, markClosed } = await boot();
    npmSim.setLatency(300);
    const inFlight = query(gateway.url, '{ azureStatus { state } }');
    await new Promise((r) => setTimeout(r, 100));
    const closing = gateway.close(5_000);
    markClosed();
    const res = await inFlight;
    expect(res).toEqual({ status: 200, body: { data: { azureStatus: { state: 'SYNC_SUCCEEDED' } } } });
    await closing;
    await expect(get(`${gateway.url}/health`)).rejects.toThrow();
  });

  it('cuts requests still running after SHUTDOWN_TIMEOUT_MS, and still resolves', async () => {
    const { gateway, npmSim, logs, markClosed } = await boot({ UPSTREAM_TIMEOUT_MS: '10000' });
    npmSim.addFault({ route: 'status.get', action: { type: 'hang' } });
    const inFlight = query(gateway.url, '{ azureStatus { state } }').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await gateway.close(300);
    markClosed();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await inFlight).toBeInstanceOf(Error);
    expect(logs.join('')).toContain('did not finish in time');
  });
});

describe('the production server with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports operation and upstream spans over OTLP/HTTP with the configured headers, flushed at shutdown', async () => {
    const exports: Array<{ path: string; headers: Record<string, unknown>; body: string }> = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        exports.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const { gateway, logs, markClosed } = await boot({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=collector-secret-1234',
      OTEL_SERVICE_NAME: 'gateway-under-test',
    });
    const res = await query(gateway.url, 'query Traced { azureStatus { state } }');
    expect(res.status).toBe(200);
    expect(res.body['errors']).toBeUndefined();
    await gateway.close(1_000);
    markClosed();
    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.path === '/v1/traces')).toBe(true);
    expect(exports[0]!.headers['x-collector-key']).toBe('collector-secret-1234');
    const body = exports.map((e) => e.body).join('\n');
    expect(body).toContain('gateway-under-test');
    expect(body).toContain('query Traced');
    expect(body).toContain('GET npm status.get');
    // The collector's credential is write-only: never logged.
    expect(logs.join('')).not.toContain('collector-secret-1234');
  });
});
