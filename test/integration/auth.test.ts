import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, VIEWER_KEY, codes, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const SECRET = 'jwt-secret-under-test-0123456789abcdef';
const ISSUER = 'https://idp.test';
const AUDIENCE = 'npm-axis-gateway';
const QUERY = '{ azureStatus { state } users(pageSize: 1) { totalRecords } }';
const MUTATION = 'mutation { setAzureSyncEnabled(enabled: true) { enabled } }';

function hs256(claims: Record<string, unknown>, options: { exp?: string | number; aud?: string; iss?: string } = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setExpirationTime(options.exp ?? '5m');
  return jwt.sign(new TextEncoder().encode(SECRET));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE },
  });
});
afterAll(() => stack.close());

describe('who may call: API keys', () => {
  it('no credential: UNAUTHENTICATED (401, WWW-Authenticate) and no upstream call', async () => {
    stack.resetCounts();
    const res = await stack.gql(QUERY, undefined, { authorization: '' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(res.body.data).toBeUndefined();
    expect(stack.calls()).toEqual({});
  });

  it.each([
    ['an unknown key', `Bearer ${'x'.repeat(40)}`],
    ['a key with one character changed', `Bearer ${ADMIN_KEY.slice(0, -1)}0`],
    ['a prefix of a key', `Bearer ${ADMIN_KEY.slice(0, 24)}`],
    ['the wrong scheme', `Basic ${ADMIN_KEY}`],
    ['an empty bearer', 'Bearer '],
  ])('%s: UNAUTHENTICATED', async (_name, authorization) => {
    stack.resetCounts();
    const res = await stack.gql(QUERY, undefined, { authorization });
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(stack.calls()).toEqual({});
  });

  it('viewer key: queries run', async () => {
    const res = await stack.gql(QUERY, undefined, bearer(VIEWER_KEY));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: { totalRecords: 120 } });
  });

  it('viewer key: a mutation is FORBIDDEN and makes no upstream call', async () => {
    stack.resetCounts();
    const res = await stack.gql(MUTATION, undefined, bearer(VIEWER_KEY));
    expect(res.status).toBe(403);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(res.body.errors?.[0]?.message).toMatch(/admin role/);
    expect(stack.calls()).toEqual({});
  });

  it('admin key: mutations run', async () => {
    const res = await stack.gql(MUTATION, undefined, bearer(ADMIN_KEY));
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ setAzureSyncEnabled: { enabled: true } });
  });

  it('the GraphiQL page and /health load without credentials; the page explains the Authorization header', async () => {
    const page = await request(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    const html = await page.body.text();
    expect(page.statusCode).toBe(200);
    expect(html).toContain('Authorization');
    expect(html).toContain(
      'Bearer &lt;your API key or JWT&gt;'.replace(/&lt;|&gt;/g, (m) => (m === '&lt;' ? '<' : '>')),
    );
    const health = await request(`${stack.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
  });
});

describe('who may call: JWTs', () => {
  it('a valid token with roles [admin] runs a mutation', async () => {
    const token = await hs256({ sub: 'alice', roles: ['admin'] });
    const res = await stack.gql(MUTATION, undefined, bearer(token));
    expect(res.body.errors).toBeUndefined();
  });

  it('a valid viewer token runs queries and is FORBIDDEN a mutation, with no upstream call', async () => {
    const token = await hs256({ sub: 'bob', roles: 'viewer' });
    expect((await stack.gql(QUERY, undefined, bearer(token))).body.errors).toBeUndefined();
    stack.resetCounts();
    const res = await stack.gql(MUTATION, undefined, bearer(token));
    expect(codes(res)).toEqual(['FORBIDDEN']);
    expect(stack.calls()).toEqual({});
  });

  it('a valid token without a known role is FORBIDDEN even for queries', async () => {
    const token = await hs256({ sub: 'carol', roles: ['auditor'] });
    const res = await stack.gql(QUERY, undefined, bearer(token));
    expect(codes(res)).toEqual(['FORBIDDEN']);
  });

  it.each([
    ['expired', () => hs256({ sub: 'dave', roles: ['admin'] }, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['wrong audience', () => hs256({ sub: 'dave', roles: ['admin'] }, { aud: 'another-api' })],
    ['wrong issuer', () => hs256({ sub: 'dave', roles: ['admin'] }, { iss: 'https://evil.test' })],
    ['no subject', () => hs256({ roles: ['admin'] })],
    [
      'signed with another secret',
      () =>
        new SignJWT({ sub: 'dave', roles: ['admin'] })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('another-secret-0123456789abcdef-0123')),
    ],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
          JSON.stringify({ sub: 'dave', roles: ['admin'], iss: ISSUER, aud: AUDIENCE }),
        ).toString('base64url')}.`,
    ],
  ])('%s token: UNAUTHENTICATED and no upstream call', async (_name, make) => {
    const token = await make();
    stack.resetCounts();
    const res = await stack.gql(MUTATION, undefined, bearer(token));
    expect(res.status).toBe(401);
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(stack.calls()).toEqual({});
  });
});

describe('JWTs from a JWKS endpoint (RS256) and a custom roles claim', () => {
  it('verifies against the JWKS and reads roles from a dotted claim path', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    try {
      await withStack(
        {
          env: { AUTH_JWKS_URL: jwksUrl, AUTH_ROLES_CLAIM: 'realm_access.roles', AUTH_JWT_AUDIENCE: AUDIENCE },
        },
        async (s) => {
          const sign = (roles: string[]) =>
            new SignJWT({ sub: 'svc-frontend', realm_access: { roles } })
              .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
              .setAudience(AUDIENCE)
              .setExpirationTime('5m')
              .sign(privateKey);
          const admin = await s.gql(MUTATION, undefined, bearer(await sign(['admin'])));
          expect(admin.body.errors).toBeUndefined();
          const viewer = await s.gql(MUTATION, undefined, bearer(await sign(['viewer'])));
          expect(codes(viewer)).toEqual(['FORBIDDEN']);
          // API keys keep working next to JWTs.
          expect((await s.gql(QUERY, undefined, bearer(VIEWER_KEY))).body.errors).toBeUndefined();
          // JWKS alone accepts no HS256 token, whatever secret signed it.
          expect(codes(await s.gql(QUERY, undefined, bearer(await hs256({ sub: 'x', roles: ['admin'] }))))).toEqual([
            'UNAUTHENTICATED',
          ]);
        },
      );
      // With a shared secret as well, both kinds of token are accepted.
      await withStack(
        {
          env: {
            AUTH_JWKS_URL: jwksUrl,
            AUTH_JWT_SECRET: SECRET,
            AUTH_JWT_ISSUER: ISSUER,
            AUTH_JWT_AUDIENCE: AUDIENCE,
          },
        },
        async (both) => {
          const rs = await new SignJWT({ sub: 'svc', roles: ['viewer'] })
            .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setExpirationTime('5m')
            .sign(privateKey);
          expect((await both.gql(QUERY, undefined, bearer(rs))).body.errors).toBeUndefined();
          const hs = await hs256({ sub: 'alice', roles: ['viewer'] });
          expect((await both.gql(QUERY, undefined, bearer(hs))).body.errors).toBeUndefined();
        },
      );
    } finally {
      jwks.close();
    }
  });
});

describe('per-caller rate limit', () => {
  it('answers RATE_LIMITED (429, Retry-After) past the burst, per caller, before any upstream call', async () => {
    await withStack({ env: { RATE_LIMIT_RPS: '1', RATE_LIMIT_BURST: '2' } }, async (s) => {
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await s.gql('{ azureStatus { state } }', undefined, bearer(VIEWER_KEY)));
      const limited = results.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(2);
      expect(codes(limited[0]!)).toEqual(['RATE_LIMITED']);
      expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.body.errors?.[0]?.extensions?.['retryAfterSeconds']).toBeGreaterThanOrEqual(1);
      // Upstream calls only for the admitted requests.
      expect(s.calls()['npm:status.get']).toBe(results.length - limited.length);
      // Another caller has its own budget.
      expect((await s.gql('{ azureStatus { state } }', undefined, bearer(ADMIN_KEY))).status).toBe(200);
    });
  });
});
