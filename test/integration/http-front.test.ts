import { Readable } from 'node:stream';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, VIEWER_KEY, codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';
import { sendBody } from '../helpers/raw-http.js';

const auth = { authorization: `Bearer ${ADMIN_KEY}` };
const JWT_SECRET = 'http-front-test-secret-0123456789abcdef';

async function raw(url: string, init: Parameters<typeof request>[1]) {
  const res = await request(url, init);
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

/** Log lines at warn level or above, parsed. */
function loud(lines: string[]): Array<{ level: number; msg: string; reason?: string; suppressed?: unknown }> {
  return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 40);
}

describe('bodies: GraphQL on the exact endpoint only, limits before the body is read', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MAX_REQUEST_BODY_BYTES: '4096', AUTH_FAILURE_LIMIT: '0' } });
  });
  afterAll(() => stack.close());

  it('/graphql/, /x/graphql and /?a=/graphql get 404 (POST and GET), and nothing runs', async () => {
    stack.resetCounts();
    for (const path of ['/graphql/', '/x/graphql', '/x/graphql/', '/?a=/graphql']) {
      const post = await raw(`${stack.url}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ users(pageSize: 1) { totalRecords } }' }),
      });
      expect(post.status, path).toBe(404);
      expect(post.json(), path).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
      const get = await raw(`${stack.url}${path}${path.includes('?') ? '&' : '?'}query=%7B__typename%7D`, {
        headers: auth,
      });
      expect(get.status, path).toBe(404);
    }
    expect(stack.calls()).toEqual({});
    // The endpoint itself, /health and /metrics are served as before.
    expect((await stack.gql('{ __typename }')).status).toBe(200);
    expect((await raw(`${stack.url}/health`, {})).status).toBe(200);
    expect((await raw(`${stack.url}/metrics`, {})).status).toBe(200);
  });

  it('a 10 MB body on /graphql/ is answered 404 without being read', async () => {
    const res = await sendBody(stack.url, { path: '/graphql/', headers: auth, totalBytes: 10 * 1024 * 1024 });
    expect(res.status).toBe(404);
    // How much of the body the client got to send before the answer depends on loopback
    // buffers and scheduling (Node discards the rest unread), so it is not asserted here;
    // that the body is never held in memory is measured on a child process's RSS in
    // body-memory.test.ts.
    expect(stack.calls()).toEqual({});
  });

  it('a chunked body is counted while it streams and cut at the limit with 413', async () => {
    const res = await sendBody(stack.url, {
      path: '/graphql',
      headers: auth,
      totalBytes: 10 * 1024 * 1024,
      chunked: true,
    });
    expect(res.status).toBe(413);
    expect(res.text).toContain('REQUEST_ENTITY_TOO_LARGE');
    expect(res.text).toContain('4096 bytes');
  });

  it('a chunked body within the limit is served (no more 411)', async () => {
    const body = JSON.stringify({ query: '{ users(pageSize: 2) { totalRecords } }' });
    const res = await request(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: Readable.from([Buffer.from(body.slice(0, 10)), Buffer.from(body.slice(10))]),
    });
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ data: { users: { totalRecords: 120 } } });
  });

  it('a declared body over the limit is 413 before it is read, naming the limit', async () => {
    const res = await sendBody(stack.url, { path: '/graphql', headers: auth, totalBytes: 10 * 1024 * 1024 });
    expect(res.status).toBe(413);
    expect(res.text).toContain('4096 bytes');
  });

  it('a caller without a valid credential gets 401 before its body is read, chunked or not', async () => {
    for (const chunked of [false, true]) {
      for (const headers of [{}, { authorization: 'Bearer not-a-key-at-all-0123456789' }] as Array<
        Record<string, string>
      >) {
        const res = await sendBody(stack.url, { path: '/graphql', headers, totalBytes: 10 * 1024 * 1024, chunked });
        expect(res.status, JSON.stringify({ chunked, headers })).toBe(401);
        expect(res.text).toContain('UNAUTHENTICATED');
      }
    }
  });
});

describe('the first answer names the first problem', () => {
  let stack: Stack;
  let open: Stack;
  beforeAll(async () => {
    stack = await startStack();
    // No GATEWAY_API_KEYS: client auth off (allowed outside production).
    open = await startStack({ env: { GATEWAY_API_KEYS: '' } });
  });
  afterAll(async () => {
    await Promise.all([stack.close(), open.close()]);
  });

  it('a GET with no credential and no CSRF-safe header is 401 UNAUTHENTICATED, not a CSRF 403', async () => {
    const res = await raw(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {});
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('with client auth off, the CSRF refusal is 403 FORBIDDEN (status and code agree)', async () => {
    const res = await raw(`${open.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {});
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({
      errors: [{ message: 'Required CSRF header(s) not present', extensions: { code: 'FORBIDDEN' } }],
    });
  });

  it('a preflight gets a plain CORS answer, never a CSRF or auth error, with CORS off too', async () => {
    for (const s of [stack, open]) {
      const res = await raw(`${s.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('no status of a refusal disagrees with its code', async () => {
    const expected: Record<number, string[]> = {
      400: ['BAD_REQUEST', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'],
      401: ['UNAUTHENTICATED'],
      403: ['FORBIDDEN'],
      405: ['BAD_REQUEST'],
      415: ['UNSUPPORTED_MEDIA_TYPE'],
    };
    const seen = [
      await raw(`${stack.url}/graphql?query=%7B__typename%7D`, {}),
      await raw(`${open.url}/graphql?query=%7B__typename%7D`, {}),
      await raw(`${stack.url}/graphql`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain' },
        body: '{}',
      }),
      await raw(`${stack.url}/graphql?query=%7B__typename%7D&variables=%7B`, { headers: auth }),
      await raw(`${stack.url}/graphql?query=${encodeURIComponent('mutation { commitAxisChanges }')}`, {
        headers: auth,
      }),
      await raw(`${stack.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${VIEWER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation { commitAxisChanges }' }),
      }),
    ];
    for (const res of seen) {
      const code = (res.json() as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code;
      if (res.status === 200) expect(code, res.text).toBe('FORBIDDEN');
      else expect(expected[res.status], `${res.status} ${code}`).toContain(code);
    }
  });
});

describe('one status rule for request-level errors, whichever executor runs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  const cases: Array<{ name: string; body: Record<string, unknown>; code: string; located: boolean }> = [
    { name: 'parse error', body: { query: '{ users ' }, code: 'GRAPHQL_PARSE_FAILED', located: true },
    { name: 'validation error', body: { query: '{ nope }' }, code: 'GRAPHQL_VALIDATION_FAILED', located: true },
    {
      name: 'bad variable in a query (graphql-jit)',
      body: { query: 'query Q($n: Int) { users(pageSize: $n) { totalRecords } }', variables: { n: 'abc' } },
      code: 'BAD_USER_INPUT',
      located: true,
    },
    {
      name: 'bad variable in a mutation (graphql-js)',
      body: {
        query: 'mutation M($e: Boolean!) { setAzureSyncEnabled(enabled: $e) { enabled } }',
        variables: { e: 'abc' },
      },
      code: 'BAD_USER_INPUT',
      located: true,
    },
    {
      name: 'operation resolution failure',
      body: { query: 'query A { __typename } query B { __typename }' },
      code: 'OPERATION_RESOLUTION_FAILURE',
      located: false,
    },
  ];

  for (const accept of ['application/graphql-response+json', 'application/json']) {
    for (const c of cases) {
      it(`${c.name} under ${accept}: ${accept === 'application/json' ? 200 : 400}, no data, ${c.code}`, async () => {
        stack.resetCounts();
        const res = await stack.post(c.body, { accept });
        expect(res.status).toBe(accept === 'application/json' ? 200 : 400);
        expect(String(res.headers['content-type'])).toContain(accept);
        expect(res.body.data).toBeUndefined();
        expect(codes(res)).toEqual([c.code]);
        const error = res.body.errors![0] as { locations?: unknown[]; extensions: Record<string, unknown> };
        if (c.located) expect(error.locations).toEqual([expect.objectContaining({ line: 1 })]);
        expect(Object.keys(error.extensions)).toEqual(['code']);
        expect(stack.calls()).toEqual({});
      });
    }
  }

  it('the query and the mutation variable errors have the same shape', async () => {
    const [q, m] = await Promise.all([
      stack.post(cases[2]!.body, { accept: 'application/graphql-response+json' }),
      stack.post(cases[3]!.body, { accept: 'application/graphql-response+json' }),
    ]);
    const shape = (r: typeof q) => ({
      status: r.status,
      keys: Object.keys(r.body),
      error: Object.keys(r.body.errors![0]!),
    });
    expect(shape(q)).toEqual(shape(m));
  });
});

describe('CORS as documented', () => {
  const preflight = (url: string, origin: string, headers = 'authorization, content-type, traceparent, tracestate') =>
    raw(`${url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
    });

  it('with one listed origin, only that origin gets CORS headers (no echo for others)', async () => {
    const stack = await startStack({ env: { CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const ok = await preflight(stack.url, 'https://app.example.com');
      expect(ok.status).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(String(ok.headers['access-control-allow-headers'])).toContain('traceparent');
      expect(String(ok.headers['access-control-allow-headers'])).toContain('tracestate');
      expect(ok.headers['access-control-max-age']).toBe('600');
      expect(String(ok.headers['vary'])).toMatch(/Origin/);
      for (const origin of ['https://evil.example.com', 'null']) {
        const no = await preflight(stack.url, origin);
        expect(no.status).toBe(204);
        expect(no.headers['access-control-allow-origin'], origin).toBeUndefined();
        expect(no.headers['access-control-allow-headers'], origin).toBeUndefined();
        // The actual request: served (CORS is the browser's rule), but with no CORS header to read it by.
        const post = await raw(`${stack.url}/graphql`, {
          method: 'POST',
          headers: { ...auth, origin, 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ __typename }' }),
        });
        expect(post.headers['access-control-allow-origin'], origin).toBeUndefined();
        expect(String(post.headers['vary'])).toMatch(/Origin/);
      }
      const listed = await raw(`${stack.url}/graphql`, {
        method: 'POST',
        headers: { ...auth, origin: 'https://app.example.com', 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(listed.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(String(listed.headers['access-control-expose-headers'])).toContain('x-request-id');
    } finally {
      await stack.close();
    }
  });

  it('with two listed origins, an unlisted one gets no header at all (never "null"); CORS_MAX_AGE_S is sent', async () => {
    const stack = await startStack({
      env: { CORS_ORIGINS: 'https://app.example.com,https://admin.example.com', CORS_MAX_AGE_S: '120' },
    });
    try {
      const ok = await preflight(stack.url, 'https://admin.example.com');
      expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example.com');
      expect(ok.headers['access-control-max-age']).toBe('120');
      const no = await preflight(stack.url, 'https://evil.example.com');
      expect(no.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await stack.close();
    }
  });
});

describe('failed authentication is limited per client address, and logged in bounded lines', () => {
  it('600 unauthenticated requests in a burst: 401 up to AUTH_FAILURE_LIMIT, then 429 with Retry-After; a valid key still passes', async () => {
    const stack = await startStack({ env: { AUTH_FAILURE_LIMIT: '30', LOG_LEVEL: 'info' } });
    try {
      stack.resetCounts();
      const statuses: number[] = [];
      let retryAfter: unknown;
      for (let batch = 0; batch < 12; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 50 }, () =>
            raw(`${stack.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query: '{ users(pageSize: 1) { totalRecords } }' }),
            }),
          ),
        );
        for (const a of answers) {
          statuses.push(a.status);
          if (a.status === 429) {
            retryAfter = a.headers['retry-after'];
            expect(a.json()).toMatchObject({ errors: [{ extensions: { code: 'AUTH_RATE_LIMITED' } }] });
          }
        }
      }
      expect(statuses).toHaveLength(600);
      expect(statuses.filter((s) => s === 401)).toHaveLength(30);
      expect(statuses.filter((s) => s === 429)).toHaveLength(570);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(stack.calls()).toEqual({});
      expect((await stack.gql('{ users(pageSize: 1) { totalRecords } }')).status).toBe(200);
    } finally {
      await stack.close();
    }
  });

  it('behind a trusted proxy, X-Forwarded-For names the client; from anyone else it is ignored', async () => {
    const trusting = await startStack({ env: { AUTH_FAILURE_LIMIT: '2', TRUSTED_PROXIES: '127.0.0.0/8' } });
    const direct = await startStack({ env: { AUTH_FAILURE_LIMIT: '2' } });
    try {
      const attempt = (s: Stack, forwardedFor: string) =>
        s.gql('{ __typename }', undefined, { authorization: '', 'x-forwarded-for': forwardedFor });
      const statuses = async (s: Stack) => {
        const out: number[] = [];
        for (const client of ['198.51.100.1', '198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.2'])
          out.push((await attempt(s, client)).status);
        return out;
      };
      // Each forwarded client has its own budget of 2 ...
      expect(await statuses(trusting)).toEqual([401, 401, 429, 401, 401]);
      // ... while without TRUSTED_PROXIES every request is the loopback peer's.
      expect(await statuses(direct)).toEqual([401, 401, 429, 429, 429]);
    } finally {
      await Promise.all([trusting.close(), direct.close()]);
    }
  });

  it('a flood of 300 bad JWTs makes at most a few warn lines and no error line', async () => {
    const stack = await startStack({ env: { AUTH_JWT_SECRET: JWT_SECRET, AUTH_FAILURE_LIMIT: '50' } });
    try {
      const forged = await new SignJWT({ sub: 'mallory', roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret-entirely-0123456789abcdef'));
      const before = stack.logs.length;
      const statuses: number[] = [];
      for (let batch = 0; batch < 6; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 50 }, () =>
            stack.gql('{ __typename }', undefined, { authorization: `Bearer ${forged}` }),
          ),
        );
        statuses.push(...answers.map((a) => a.status));
      }
      expect(statuses.filter((s) => s === 401)).toHaveLength(50);
      expect(statuses.filter((s) => s === 429)).toHaveLength(250);
      const lines = loud(stack.logs.slice(before));
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      // One line per (reason, client) in the interval: invalid_credential, then auth_failures_limited.
      expect(lines.map((l) => l.reason)).toEqual(['invalid_credential', 'auth_failures_limited']);
    } finally {
      await stack.close();
    }
  });
});
