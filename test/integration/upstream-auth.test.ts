import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { UpstreamHttp } from '../../src/upstreams/http.js';
import { createNpmTokenSource } from '../../src/upstreams/npm/auth.js';
import { NpmClient } from '../../src/upstreams/npm/client.js';
import { parseNpmErrorBody } from '../../src/upstreams/npm/types.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import { AXIS_RO_TOKEN, NPM_PASSWORD, NPM_USER, codes, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

describe('NPM login with username and password', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('logs in once and reuses the token, even for concurrent first requests', async () => {
    stack.npmSim.reset();
    stack.resetCounts();
    await Promise.all(Array.from({ length: 10 }, () => stack.gql('{ azureStatus { state } }')));
    await stack.gql('{ azureAccounts { accId } }');
    expect(stack.calls()).toMatchObject({ 'npm:token.post': 1, 'npm:status.get': 10, 'npm:authCodes.get': 1 });
  });

  it('an expired token mid-run: one new login, the request retried once, the caller sees data', async () => {
    await stack.gql('{ azureStatus { state } }');
    stack.resetCounts();
    stack.npmSim.expireTokens();
    const res = await stack.gql('{ azureStatus { state } azureAccounts { accId } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' } });
    const calls = stack.calls();
    expect(calls['npm:token.post']).toBe(1);
    // Each of the two routes: the rejected try and the retry.
    expect(calls['npm:status.get']).toBe(2);
    expect(calls['npm:authCodes.get']).toBe(2);
  });

  it('a 401 that persists after the new login is UPSTREAM_AUTH_FAILED, with no loop', async () => {
    stack.npmSim.reset();
    await stack.gql('{ azureStatus { state } }');
    stack.resetCounts();
    stack.npmSim.addFault({
      route: 'status.get',
      action: { type: 'error', status: 401, errorId: 'AUTH_INVALID_TOKEN' },
    });
    const res = await stack.gql('{ azureStatus { state } }');
    expect(codes(res)).toEqual(['UPSTREAM_AUTH_FAILED']);
    expect(stack.calls()).toMatchObject({ 'npm:token.post': 1, 'npm:status.get': 2 });
  });

  it('a mutation rejected for an expired token is retried once after login and applied once', async () => {
    stack.npmSim.reset();
    await stack.gql('{ azureStatus { state } }');
    stack.npmSim.expireTokens();
    stack.resetCounts();
    const res = await stack.gql('mutation { syncAzureAccounts { state } }');
    expect(res.body.errors).toBeUndefined();
    expect(stack.calls()).toMatchObject({ 'npm:token.post': 1, 'npm:sync.post': 2, 'npm:status.get': 1 });
  });
});

describe('NPM credentials that do not work', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('a wrong password is UPSTREAM_AUTH_FAILED and Axis data still arrives', async () => {
    stack = await startStack({ env: { NPM_PASSWORD: 'wrong-password-123' } });
    const res = await stack.gql('{ azureStatus { state } users(pageSize: 1) { totalRecords } }');
    expect(codes(res)).toEqual(['UPSTREAM_AUTH_FAILED']);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      upstream: 'npm',
      upstreamStatus: 401,
      upstreamErrorId: 'AUTH_INVALID_CREDENTIALS',
    });
    expect(res.body.data).toMatchObject({ azureStatus: null, users: { totalRecords: 120 } });
  });

  it('a static NPM_ACCESS_TOKEN is sent as is; once expired it fails without any login attempt', async () => {
    stack = await startStack({
      env: { NPM_ACCESS_TOKEN: 'static-npm-token-abc', NPM_USERNAME: '', NPM_PASSWORD: '' },
      npm: { staticTokens: ['static-npm-token-abc'] },
    });
    const ok = await stack.gql('{ azureStatus { state } }');
    expect(ok.body.errors).toBeUndefined();
    stack.npmSim.expireTokens();
    const res = await stack.gql('{ azureStatus { state } }');
    expect(codes(res)).toEqual(['UPSTREAM_AUTH_FAILED']);
    expect(stack.calls()['npm:token.post']).toBeUndefined();
  });
});

describe('NPM token lifetime', () => {
  it('renews shortly before expires_at, not on every call and not after expiry', async () => {
    let clock = Date.UTC(2026, 10, 24, 8, 0, 0);
    const now = () => clock;
    const sim = createNpmSimulator({ username: NPM_USER, password: NPM_PASSWORD, tokenTtlSeconds: 900, now });
    const url = await sim.start(0);
    const logger = createLogger('silent');
    const http = new UpstreamHttp({
      upstream: 'npm',
      baseUrl: url,
      timeoutMs: 2000,
      logger,
      parseErrorBody: parseNpmErrorBody,
    });
    const tokens = createNpmTokenSource(
      { kind: 'password', username: NPM_USER, password: NPM_PASSWORD },
      http,
      logger,
      now,
    );
    const client = new NpmClient(http, tokens, logger);
    try {
      await client.getStatus();
      clock += 10 * 60_000; // 10 of 15 minutes
      await client.getStatus();
      expect(sim.counts()['token.post']).toBe(1);
      clock += 4 * 60_000 + 30_000; // 30 s before expiry: inside the renewal margin
      await client.getStatus();
      expect(sim.counts()['token.post']).toBe(2);
      expect(sim.counts()['status.get']).toBe(3); // no rejected call: renewed before expiry
    } finally {
      await http.close();
      await sim.stop();
    }
  });
});

describe('Axis token permissions', () => {
  it.each([401, 403] as const)(
    'a read-only token (%i on write) reads, and a write is UPSTREAM_AUTH_FAILED with no commit',
    async (status) => {
      await withStack(
        { env: { AXIS_API_TOKEN: AXIS_RO_TOKEN }, axis: { readOnlyWriteStatus: status } },
        async (stack) => {
          const read = await stack.gql('{ users(pageSize: 1) { totalRecords } }');
          expect(read.body.errors).toBeUndefined();
          const write = await stack.gql('mutation { deleteUser(id: "u-0001") }');
          expect(codes(write)).toEqual(['UPSTREAM_AUTH_FAILED']);
          expect(write.body.errors?.[0]?.extensions).toMatchObject({ upstream: 'axis', upstreamStatus: status });
          expect(stack.axisSim.state().users.some((u) => u.id === 'u-0001')).toBe(true);
          expect(stack.axisSim.counts()['commit'] ?? 0).toBe(0);
        },
      );
    },
  );

  it('an expired Axis token is UPSTREAM_AUTH_FAILED and NPM data still arrives', async () => {
    await withStack({}, async (stack) => {
      stack.axisSim.expireTokens();
      const res = await stack.gql('{ azureStatus { state } users { totalRecords } }');
      expect(codes(res)).toEqual(['UPSTREAM_AUTH_FAILED']);
      expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: null });
    });
  });

  it("the caller's Authorization header is never forwarded upstream", async () => {
    await withStack({}, async (stack) => {
      // Were the caller's header (a client API key) forwarded, Axis would reject it.
      const res = await stack.gql('{ users(pageSize: 1) { totalRecords } }');
      expect(res.body.errors).toBeUndefined();
    });
  });
});
