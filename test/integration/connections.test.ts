import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ADMIN_KEY, startProductionGateway } from '../helpers/stack.js';
import type { ProductionGateway } from '../helpers/stack.js';
import { openSse } from '../helpers/sse.js';
import type { SseStream } from '../helpers/sse.js';

const VIEWER = 'viewer-key-connections-test-0123456789';
const SUBSCRIPTION = 'subscription { azureStatus { state } }';

async function health(url: string): Promise<number> {
  const res = await request(`${url}/health`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  await res.body.text();
  return res.statusCode;
}

describe('connections: listener timeouts, subscription caps (the production listener)', () => {
  let prod: ProductionGateway;
  beforeAll(async () => {
    prod = await startProductionGateway({
      GATEWAY_API_KEYS: `ops=admin:${ADMIN_KEY},dash=viewer:${VIEWER}`,
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      MAX_SUBSCRIPTIONS_PER_CALLER: '5',
      MAX_SUBSCRIPTIONS: '8',
      AZURE_STATUS_POLL_MS: '200',
    });
  });
  afterAll(async () => {
    await prod.gateway.close(1_000);
    await prod.stopSimulators();
  });

  it('a body sent at 1 byte/s is cut (408) at the request timeout, and /health answers meanwhile', async () => {
    const { hostname, port } = new URL(prod.gateway.url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Length: 1000\r\n\r\n{`,
    );
    let sent = 1;
    const drip = setInterval(() => {
      if (!socket.destroyed && sent < 1000) {
        socket.write(' ');
        sent++;
      }
    }, 1_000);
    try {
      expect(await health(prod.gateway.url)).toBe(200);
      // Generous liveness bound: the configured 1.5 s plus Node's check interval, many times over.
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not cut')), 20_000))]);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(sent).toBeLessThan(20);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('headers sent too slowly are cut at the headers timeout', async () => {
    const { hostname, port } = new URL(prod.gateway.url);
    const socket = connect(Number(port), hostname);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\n`);
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('not cut')), 20_000))]);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('an SSE subscription outlives the request timeout (it covers receiving the request only)', async () => {
    const stream = await openSse(prod.gateway.url, SUBSCRIPTION, { headers: { authorization: `Bearer ${VIEWER}` } });
    try {
      expect(stream.status).toBe(200);
      await stream.waitFor((e) => e.length >= 1);
      // Twice HTTP_REQUEST_TIMEOUT_MS: the stream is still open and still sending.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const count = stream.events.length;
      await stream.waitFor((e) => e.length > count || e.length >= 1, 5_000);
      expect(stream.events.some((e) => e.event === 'complete')).toBe(false);
      let ended = false;
      void stream.ended.then(() => (ended = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ended).toBe(false);
    } finally {
      stream.close();
      await stream.ended;
    }
  });

  it('streams past the per-caller cap and the total cap are refused with SUBSCRIPTION_LIMIT_EXCEEDED, /health still answers, and a closed stream frees its slot', async () => {
    const streams: SseStream[] = [];
    const open = (key: string) =>
      openSse(prod.gateway.url, SUBSCRIPTION, { headers: { authorization: `Bearer ${key}` } });
    try {
      for (let i = 0; i < 5; i++) streams.push(await open(ADMIN_KEY));
      await Promise.all(streams.map((s) => s.waitFor((e) => e.length >= 1)));
      // The sixth from the same key, and ten more: all refused, with a clear code.
      for (let i = 0; i < 10; i++) {
        const refused = await open(ADMIN_KEY);
        const events = await refused.waitFor((e) => e.some((x) => x.data?.errors !== undefined));
        expect(refused.status).toBe(429);
        expect(events[0]!.data!.errors![0]!.extensions!['code']).toBe('SUBSCRIPTION_LIMIT_EXCEEDED');
        expect(events[0]!.data!.errors![0]!.message).toContain('MAX_SUBSCRIPTIONS_PER_CALLER 5');
        await refused.ended;
      }
      expect(await health(prod.gateway.url)).toBe(200);
      // Another caller gets the remaining 3 of MAX_SUBSCRIPTIONS=8, then the total cap.
      for (let i = 0; i < 3; i++) streams.push(await open(VIEWER));
      await Promise.all(streams.map((s) => s.waitFor((e) => e.length >= 1)));
      const overTotal = await open(VIEWER);
      const events = await overTotal.waitFor((e) => e.some((x) => x.data?.errors !== undefined));
      expect(overTotal.status).toBe(429);
      expect(events[0]!.data!.errors![0]!.message).toContain('MAX_SUBSCRIPTIONS 8');
      await overTotal.ended;
      // A client that goes away gives its slot back.
      const first = streams.shift()!;
      first.close();
      await first.ended;
      await expect
        .poll(async () => {
          const again = await open(ADMIN_KEY);
          const ok = again.status === 200;
          if (ok) streams.push(again);
          else await again.ended;
          return ok;
        })
        .toBe(true);
      expect(await health(prod.gateway.url)).toBe(200);
      // One warn line per (reason, caller) for all these refusals.
      const refusals = prod.logs.filter((l) => l.includes('"reason":"subscription_limit"'));
      expect(refusals.length).toBeLessThanOrEqual(2);
    } finally {
      for (const s of streams) s.close();
      await Promise.all(streams.map((s) => s.ended));
    }
  });
});

describe('MAX_CONNECTIONS', () => {
  let prod: ProductionGateway;
  beforeAll(async () => {
    prod = await startProductionGateway({ MAX_CONNECTIONS: '3' });
  });
  afterAll(async () => {
    await prod.gateway.close(500);
    await prod.stopSimulators();
  });

  it('sockets past the cap are closed at once; the ones inside it are served', async () => {
    const { hostname, port } = new URL(prod.gateway.url);
    const held = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const s = connect(Number(port), hostname, () => resolve(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    try {
      // Let the server accept all three.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const extra = connect(Number(port), hostname);
      extra.on('error', () => undefined);
      let answer = '';
      extra.on('data', (d: Buffer) => (answer += d.toString()));
      extra.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      await new Promise<void>((resolve) => extra.on('close', () => resolve()));
      expect(answer).toBe('');
      // A held socket is served.
      let served = '';
      held[0]!.on('data', (d: Buffer) => (served += d.toString()));
      held[0]!.write(`GET /health HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      await expect.poll(() => served).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
