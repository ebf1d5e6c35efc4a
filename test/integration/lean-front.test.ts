import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, VIEWER_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';
import { openSse } from '../helpers/sse.js';
import { postMultipart } from '../helpers/multipart.js';
import { persistedOperationId } from '../../src/persisted-operations.js';

/**
 * The lean HTTP front (src/front/lean-front.ts) against Yoga's: two gateways on the same
 * simulators' kind, one per HTTP_FRONT, sent the same requests. The lean one serves the
 * JSON POSTs it takes and must answer them exactly as Yoga does (status, headers, body);
 * everything else it hands to Yoga unchanged, body included.
 */

const PERSISTED = 'query Persisted { azureStatus { state } }';
const manifestFile = join(mkdtempSync(join(tmpdir(), 'lean-front-')), 'manifest.json');
writeFileSync(manifestFile, JSON.stringify({ [persistedOperationId(PERSISTED)]: PERSISTED }));

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers both fronts must send alike; the request id differs per request unless the caller names one. */
const COMPARED = [
  'content-type',
  'cache-control',
  'vary',
  'www-authenticate',
  'retry-after',
  'x-request-id',
  'idempotent-replayed',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'access-control-allow-credentials',
];

interface Sent {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Readable;
}

async function send(url: string, init: Sent): Promise<Answer> {
  const res = await request(`${url}${init.path ?? '/graphql'}`, {
    method: (init.method ?? 'POST') as 'POST',
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const body = await res.body.text();
  const headers: Record<string, string> = {};
  for (const name of COMPARED) {
    const value = res.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { status: res.statusCode, headers, body };
}

const json = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
  authorization: `Bearer ${ADMIN_KEY}`,
  'x-request-id': 'lean-front-test',
};

/** Requests the lean front takes, with what each checks. */
const TAKEN: Array<{ name: string; headers?: Record<string, string>; body: () => string | Readable }> = [
  {
    name: 'a query',
    body: () => JSON.stringify({ query: '{ azureStatus { state } users(pageSize: 2) { nodes { id } } }' }),
  },
  {
    name: 'a query, Accept: application/json',
    headers: { accept: 'application/json' },
    body: () => JSON.stringify({ query: '{ nope }' }),
  },
  {
    name: 'a query, no Accept',
    headers: { accept: '' },
    body: () => JSON.stringify({ query: '{ azureStatus { state } }' }),
  },
  {
    // Past 4096 characters the lean front sends the body as one Buffer (lean-front.ts, send).
    name: 'a large answer',
    body: () => JSON.stringify({ query: '{ users(pageSize: 100) { nodes { id userName email groups { name } } } }' }),
  },
  { name: 'a syntax error', body: () => JSON.stringify({ query: '{ azureStatus { ' }) },
  { name: 'a validation error', body: () => JSON.stringify({ query: '{ nope }' }) },
  {
    name: 'a variable of the wrong type',
    body: () =>
      JSON.stringify({ query: 'query($n: Int) { users(pageSize: $n) { totalRecords } }', variables: { n: 'x' } }),
  },
  {
    name: 'an operation over the depth limit',
    body: () =>
      JSON.stringify({
        query: `{ ${'users { nodes { groups { nodes { users { nodes { '.repeat(2)} id ${'} } } } } } '.repeat(2)} }`,
      }),
  },
  {
    name: 'no credential',
    headers: { authorization: '' },
    body: () => JSON.stringify({ query: '{ azureStatus { state } }' }),
  },
  {
    name: 'a wrong key',
    headers: { authorization: 'Bearer wrong-key' },
    body: () => JSON.stringify({ query: '{ azureStatus { state } }' }),
  },
  {
    name: 'a viewer running a mutation',
    headers: { authorization: `Bearer ${VIEWER_KEY}` },
    body: () => JSON.stringify({ query: 'mutation { setAzureSyncEnabled(enabled: true) { enabled } }' }),
  },
  {
    name: 'a persisted operation',
    body: () => JSON.stringify({ documentId: `sha256:${persistedOperationId(PERSISTED)}` }),
  },
  { name: 'an unknown persisted operation', body: () => JSON.stringify({ documentId: 'sha256:' + '0'.repeat(64) }) },
  { name: 'neither query nor documentId', body: () => JSON.stringify({ variables: {} }) },
  { name: 'invalid JSON', body: () => '{"query": ' },
  { name: 'a JSON array (batching is off)', body: () => JSON.stringify([{ query: '{ azureStatus { state } }' }]) },
  { name: 'a JSON string', body: () => JSON.stringify('{ azureStatus { state } }') },
  { name: 'query is not a string', body: () => JSON.stringify({ query: 42 }) },
  {
    name: 'a chunked body within the limit',
    body: () => Readable.from([Buffer.from(JSON.stringify({ query: '{ azureStatus { state } }' }))]),
  },
  { name: 'a chunked body over the limit', body: () => Readable.from([Buffer.alloc(3_000, 0x20)]) },
  { name: 'a declared body over the limit', body: () => ' '.repeat(3_000) },
  {
    name: 'a subscription by POST, JSON Accept',
    body: () => JSON.stringify({ query: 'subscription { azureStatus { state } }' }),
  },
  {
    name: '@defer by POST, JSON Accept',
    body: () =>
      JSON.stringify({ query: '{ azureStatus { state } ... @defer { users(pageSize: 1) { totalRecords } } }' }),
  },
  {
    name: 'a mutation with an invalid Idempotency-Key',
    headers: { 'idempotency-key': ' ' },
    body: () => JSON.stringify({ query: 'mutation { setAzureSyncEnabled(enabled: false) { enabled } }' }),
  },
  {
    name: 'a listed Origin (CORS headers)',
    headers: { origin: 'https://app.example' },
    body: () => JSON.stringify({ query: '{ azureStatus { state } }' }),
  },
  {
    name: 'an unsane x-request-id (a new one is made)',
    headers: { 'x-request-id': 'bad id with spaces' },
    body: () => JSON.stringify({ query: '{ nope }' }),
  },
];

describe('the lean HTTP front answers exactly as Yoga does', () => {
  let lean: Stack;
  let yoga: Stack;
  const env = {
    MAX_REQUEST_BODY_BYTES: '2000',
    CORS_ORIGINS: 'https://app.example',
    PERSISTED_OPERATIONS_FILE: manifestFile,
  };

  beforeAll(async () => {
    [lean, yoga] = await Promise.all([
      startStack({ env: { ...env, HTTP_FRONT: 'lean' } }),
      startStack({ env: { ...env, HTTP_FRONT: 'yoga' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([lean?.close(), yoga?.close()]);
  });

  it.each(TAKEN)('$name: the lean front serves it, with the same status, headers and body', async (c) => {
    const headers: Record<string, string> = { ...json, ...c.headers };
    for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
    const before = { ...lean.served };
    const [a, b] = await Promise.all([
      send(lean.url, { headers, body: c.body() }),
      send(yoga.url, { headers, body: c.body() }),
    ]);
    expect(lean.served.lean).toBe(before.lean + 1);
    expect(lean.served.yoga).toBe(before.yoga);
    if (a.headers['x-request-id'] !== 'lean-front-test') {
      // A request id the gateway made: a UUID on both sides.
      expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      delete a.headers['x-request-id'];
      delete b.headers['x-request-id'];
    }
    expect(a).toEqual(b);
  });

  it('records the same metrics series as Yoga (HTTP duration by status, operation duration, errors by code)', async () => {
    for (const stack of [lean, yoga]) {
      await send(stack.url, {
        headers: json,
        body: JSON.stringify({ query: 'query Probe { azureStatus { state } }' }),
      });
      await send(stack.url, { headers: json, body: JSON.stringify({ query: 'query ProbeBad { nope }' }) });
    }
    const series = async (stack: Stack) => {
      const text = await stack.metrics!.registry.metrics();
      return text
        .split('\n')
        .filter(
          (l) => /^graphql_(yoga_http_duration|envelop_request_duration|errors)/.test(l) && /_count|_total/.test(l),
        )
        .map((l) => l.replace(/ [0-9.e+-]+$/, ''))
        .sort();
    };
    const [a, b] = await Promise.all([series(lean), series(yoga)]);
    expect(a.length).toBeGreaterThan(0);
    expect(a.some((l) => l.includes('operationName="Probe"') && l.includes('statusCode="200"'))).toBe(true);
    expect(a).toEqual(b);
  });
});

describe('what the lean front does not take goes to Yoga unchanged (lean front on)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { HTTP_FRONT: 'lean' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Runs `fn` and says which path served the requests it sent. */
  async function servedBy(fn: () => Promise<unknown>): Promise<{ lean: number; yoga: number }> {
    const before = { ...stack.served };
    await fn();
    return { lean: stack.served.lean - before.lean, yoga: stack.served.yoga - before.yoga };
  }

  it('a GET query', async () => {
    let res: Awaited<ReturnType<Stack['get']>> | undefined;
    expect(await servedBy(async () => (res = await stack.get({ query: '{ azureStatus { state } }' })))).toEqual({
      lean: 0,
      yoga: 1,
    });
    expect(res!.status).toBe(200);
    expect(res!.body.data).toEqual({ azureStatus: { state: expect.any(String) } });
  });

  it('a subscription over SSE (POST, Accept: text/event-stream), its body intact', async () => {
    const served = await servedBy(async () => {
      const sse = await openSse(stack.url, 'subscription { azureStatus { state } }', {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const [event] = await sse.waitFor((events) => events.length > 0);
      expect(event!.data).toMatchObject({ data: { azureStatus: { state: expect.any(String) } } });
      sse.close();
    });
    expect(served).toEqual({ lean: 0, yoga: 1 });
  });

  it('@defer over multipart (POST, Accept: multipart/mixed), its body intact', async () => {
    const served = await servedBy(async () => {
      const res = await postMultipart(
        stack.url,
        '{ azureStatus { state } ... @defer { users(pageSize: 1) { totalRecords } } }',
        {
          authorization: `Bearer ${ADMIN_KEY}`,
        },
      );
      await res.ended;
      expect(res.parts.length).toBeGreaterThan(1);
      expect(res.parts[0]).toMatchObject({ data: { azureStatus: { state: expect.any(String) } } });
    });
    expect(served).toEqual({ lean: 0, yoga: 1 });
  });

  it('other content types, other paths, a query string, /health and /ready', async () => {
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const answers: number[] = [];
    const served = await servedBy(async () => {
      const sent: Sent[] = [
        { headers: { ...auth, 'content-type': 'text/plain' }, body: '{ azureStatus { state } }' },
        {
          headers: { ...auth, 'content-type': 'application/graphql+json' },
          body: JSON.stringify({ query: '{ azureStatus { state } }' }),
        },
        { headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' },
        {
          path: '/graphql?x=1',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ azureStatus { state } }' }),
        },
        { path: '/graphql/', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' },
        { path: '/health', method: 'GET', headers: {} },
        { path: '/ready', method: 'GET', headers: {} },
        { method: 'OPTIONS', headers: { origin: 'https://x.example', 'access-control-request-method': 'POST' } },
      ];
      for (const init of sent) answers.push((await send(stack.url, init)).status);
    });
    expect(answers).toEqual([415, 200, 415, 200, 404, 200, 200, 204]);
    expect(served).toEqual({ lean: 0, yoga: 8 });
  });
});
