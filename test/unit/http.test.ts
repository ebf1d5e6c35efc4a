import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { createLogger } from '../../src/logger.js';
import { UpstreamHttp } from '../../src/upstreams/http.js';
import type { UpstreamCallEvent } from '../../src/upstreams/instrumentation.js';

/** A scripted upstream: each path answers the way the test needs, on a loopback port. */
const routes: Record<string, (res: ServerResponse) => void> = {
  '/ok': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"n":1}'),
  '/big': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"s":"${'x'.repeat(4096)}"}`),
  // The same two with their Content-Length declared (read whole, not streamed).
  '/big-declared': (res) => {
    const body = `{"s":"${'x'.repeat(4096)}"}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
  },
  '/utf8-declared': (res) => {
    const body = Buffer.from(JSON.stringify({ s: 'Zoë Ångström' }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.write(body.subarray(0, 10));
    setTimeout(() => res.end(body.subarray(10)), 5);
  },
  '/stall-declared': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    res.write('{"n":');
  },
  '/stall-body': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"n":'); // and never the rest
  },
  '/teapot': (res) => res.writeHead(418).end('<html>not json</html>'),
  '/utf8': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const body = Buffer.from(JSON.stringify({ s: 'Zoë Ångström' }));
    res.write(body.subarray(0, 10)); // split inside a multi-byte character
    setTimeout(() => res.end(body.subarray(10)), 5);
  },
};

let server: Server;
let baseUrl: string;
const events: UpstreamCallEvent[] = [];
let http: UpstreamHttp;

beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url ?? ''] ?? ((r) => r.writeHead(404).end()))(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  http = new UpstreamHttp({
    upstream: 'axis',
    baseUrl,
    timeoutMs: 300,
    logger: createLogger('silent'),
    parseErrorBody: () => ({}),
    maxBodyBytes: 1024,
    onCall: (e) => events.push(e),
  });
});
afterAll(async () => {
  await http.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const shape = z.object({ n: z.number() });

async function failure(path: string): Promise<UpstreamError> {
  const err = await http.request({ route: 'test', method: 'GET', path, schema: z.unknown() }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

describe('UpstreamHttp', () => {
  it('parses and checks a success body, and reports the call', async () => {
    events.length = 0;
    expect(await http.request({ route: 'ok', method: 'GET', path: '/ok', schema: shape })).toEqual({ n: 1 });
    expect(events).toEqual([
      expect.objectContaining({ upstream: 'axis', route: 'ok', method: 'GET', status: 200, failure: undefined }),
    ]);
  });

  it('refuses a body larger than the limit instead of buffering it, streamed or of declared length', async () => {
    for (const path of ['/big', '/big-declared']) {
      const err = await failure(path);
      expect(err.failure).toBe('bad_response');
      expect(err.details.text).toBe('response body too large');
    }
  });

  it('times out a body that stops arriving after the headers, streamed or of declared length', async () => {
    for (const path of ['/stall-body', '/stall-declared']) {
      const started = Date.now();
      const err = await failure(path);
      expect(err.failure).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(2000);
      // A success between the two, so their timed-out attempts do not open the circuit.
      await http.request({ route: 'ok', method: 'GET', path: '/ok', schema: shape });
    }
  });

  it('turns a non-JSON error page into an http failure with its status', async () => {
    const err = await failure('/teapot');
    expect(err.failure).toBe('http');
    expect(err.status).toBe(418);
  });

  it('decodes UTF-8 split across chunks, streamed or of declared length', async () => {
    for (const path of ['/utf8', '/utf8-declared']) {
      expect(await http.request({ route: 'utf8', method: 'GET', path, schema: z.object({ s: z.string() }) })).toEqual({
        s: 'Zoë Ångström',
      });
    }
  });

  it('reports a wrong shape as bad_response', async () => {
    const err = await http
      .request({ route: 'ok', method: 'GET', path: '/ok', schema: z.object({ n: z.string() }) })
      .catch((e: unknown) => e);
    expect((err as UpstreamError).failure).toBe('bad_response');
  });
});
