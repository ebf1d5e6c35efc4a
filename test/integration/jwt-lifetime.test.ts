import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * A JWT without `exp` never expires, so it is refused; AUTH_JWT_MAX_AGE_S caps the accepted
 * lifetime from `iat` whatever `exp` says. Refusals are UNAUTHENTICATED (401) before any
 * upstream call.
 */

const SECRET = 'jwt-lifetime-secret-under-test-0123456789';
const QUERY = '{ azureStatus { state } }';
const nowS = () => Math.floor(Date.now() / 1000);

function sign(claims: { exp?: number; iat?: number }): Promise<string> {
  const jwt = new SignJWT({ sub: 'lifetime-tester', roles: ['viewer'] }).setProtectedHeader({ alg: 'HS256' });
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

async function call(stack: Stack, token: string) {
  stack.resetCounts();
  const res = await stack.gql(QUERY, undefined, { authorization: `Bearer ${token}` });
  return { res, calls: stack.calls() };
}

describe('JWT lifetime', () => {
  let stack: Stack;
  let capped: Stack;
  beforeAll(async () => {
    [stack, capped] = await Promise.all([
      startStack({ env: { AUTH_JWT_SECRET: SECRET } }),
      startStack({ env: { AUTH_JWT_SECRET: SECRET, AUTH_JWT_MAX_AGE_S: '3600' } }),
    ]);
  });
  afterAll(() => Promise.all([stack.close(), capped.close()]));

  it('a token with exp is accepted; the same token without exp is UNAUTHENTICATED, with no upstream call', async () => {
    const ok = await call(stack, await sign({ iat: nowS(), exp: nowS() + 300 }));
    expect(ok.res.body.errors).toBeUndefined();
    const forever = await call(stack, await sign({ iat: nowS() }));
    expect(forever.res.status).toBe(401);
    expect(codes(forever.res)).toEqual(['UNAUTHENTICATED']);
    expect(forever.calls).toEqual({});
  });

  it('without AUTH_JWT_MAX_AGE_S, a long-lived token with exp and no iat is accepted', async () => {
    const res = (await call(stack, await sign({ exp: nowS() + 30 * 86_400 }))).res;
    expect(res.body.errors).toBeUndefined();
  });

  it('with AUTH_JWT_MAX_AGE_S=3600: issued within the hour is accepted, older or without iat is refused', async () => {
    const fresh = await call(capped, await sign({ iat: nowS() - 60, exp: nowS() + 86_400 }));
    expect(fresh.res.body.errors).toBeUndefined();
    const old = await call(capped, await sign({ iat: nowS() - 7_200, exp: nowS() + 86_400 }));
    expect(old.res.status).toBe(401);
    expect(codes(old.res)).toEqual(['UNAUTHENTICATED']);
    expect(old.calls).toEqual({});
    const noIat = await call(capped, await sign({ exp: nowS() + 300 }));
    expect(codes(noIat.res)).toEqual(['UNAUTHENTICATED']);
    const noExp = await call(capped, await sign({ iat: nowS() }));
    expect(codes(noExp.res)).toEqual(['UNAUTHENTICATED']);
  });
});
