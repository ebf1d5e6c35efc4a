import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_LIMITS } from '../../src/gateway.js';
import { ADMIN_KEY, codes, raw, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const auth = { authorization: `Bearer ${ADMIN_KEY}` };

function nested(levels: number): string {
  // users -> groups -> users -> ... : `levels` list fields below `users`.
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = i % 2 === 0 ? `users { ${inner} }` : `groups { ${inner} }`;
  return `{ users(pageSize: 1) { nodes { groups { ${inner} } } } }`;
}

describe('operation limits (graphql-armor), before any upstream call', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('a 12-level users -> groups -> users nesting is refused', async () => {
    stack.resetCounts();
    expect(nested(12)).toContain('users { groups { users { groups');
    const res = await stack.gql(nested(12));
    expect(new Set(codes(res))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(res.body.errors?.map((e) => e.message).join(' ')).toMatch(/depth limit of 8|Cost limit of 500/);
    expect(res.body.data).toBeUndefined();
    expect(stack.calls()).toEqual({});
  });

  it('200 aliases are refused', async () => {
    stack.resetCounts();
    const query = `{ ${Array.from({ length: 200 }, (_, i) => `a${i}: azureStatus { state }`).join(' ')} }`;
    const res = await stack.gql(query);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors?.[0]?.message).toMatch(/[Aa]liases limit/);
    expect(stack.calls()).toEqual({});
  });

  it('too many directives and too many tokens are refused', async () => {
    stack.resetCounts();
    const directives = Array.from({ length: OPERATION_LIMITS.maxDirectives + 5 }, () => '@include(if: true)').join(' ');
    expect(codes(await stack.gql(`{ azureStatus ${directives} { state } }`))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const tokens = `{ azureStatus { ${Array.from({ length: OPERATION_LIMITS.maxTokens }, () => 'state').join(' ')} } }`;
    const res = await stack.gql(tokens);
    expect(codes(res)[0]).toMatch(/^GRAPHQL_(PARSE|VALIDATION)_FAILED$/);
    expect(stack.calls()).toEqual({});
  });

  it('an expensive but shallow operation is refused by cost', async () => {
    stack.resetCounts();
    const field =
      'users(pageSize: 1000) { nodes { id userName email firstName lastName groups { id name description users { id userName email } } } }';
    const query = `{ ${Array.from({ length: 12 }, (_, i) => `u${i}: ${field}`).join(' ')} }`;
    const res = await stack.gql(query);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors?.[0]?.message).toMatch(/[Cc]ost/);
    expect(stack.calls()).toEqual({});
  });

  it('batched requests are refused', async () => {
    const res = await raw(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('CSRF: a GET without a non-simple header is refused', async () => {
    const get = await raw(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { method: 'GET' });
    // With client auth on, a GET without a non-simple header has no credential either: the
    // credential is the first problem named (the CSRF refusal itself, with auth off, is in
    // test/integration/http-front.test.ts).
    expect(get.status).toBe(401);
    expect(get.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    // The other half of the CSRF defence, refusing form-like POSTs, is the request guard's
    // (test/integration/use-request-guard.test.ts).
    // A GET carrying the credential is preflighted by browsers, so it is fine.
    const authed = await raw(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      method: 'GET',
      headers: auth,
    });
    expect(authed.status).toBe(200);
  });

  it('invalid JSON is a 400 BAD_REQUEST that does not echo the body', async () => {
    const res = await raw(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
      body: '{"query": "secret-looking-input',
    });
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({
      errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('no CORS headers without CORS_ORIGINS', async () => {
    const res = await raw(`${stack.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('CORS allowlist', () => {
  it('answers CORS only for allowlisted origins', async () => {
    await withStack({ env: { CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' } }, async (stack) => {
      const preflight = (origin: string) =>
        raw(`${stack.url}/graphql`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization',
          },
        });
      const ok = await preflight('https://admin.example.com');
      expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example.com');
      expect(String(ok.headers['access-control-allow-headers'])).toContain('authorization');
      const evil = await preflight('https://evil.example.com');
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});

describe('production defaults', () => {
  let prod: Stack;
  beforeAll(async () => {
    prod = await startStack({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => prod.close());

  it('introspection is off', async () => {
    const res = await prod.gql('{ __schema { types { name } } }');
    expect(codes(res).length).toBeGreaterThan(0);
    expect(new Set(codes(res))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(res.body.data).toBeUndefined();
  });

  it('field suggestions are off', async () => {
    const res = await prod.gql('{ azureStatu { state } }');
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('GraphiQL is off', async () => {
    const res = await raw(`${prod.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.text).not.toContain('<html');
  });

  it('INTROSPECTION=true and GRAPHIQL=true turn them back on', async () => {
    await withStack({ env: { NODE_ENV: 'production', INTROSPECTION: 'true', GRAPHIQL: 'true' } }, async (s) => {
      expect((await s.gql('{ __schema { queryType { name } } }')).body.data).toEqual({
        __schema: { queryType: { name: 'Query' } },
      });
      const page = await raw(`${s.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.text).toContain('<html');
    });
  });

  it('development keeps suggestions, for people exploring', async () => {
    await withStack({}, async (dev) => {
      const res = await dev.gql('{ azureStatu { state } }');
      expect(res.body.errors?.[0]?.message).toMatch(/Did you mean "azureStatus"/);
    });
  });
});
