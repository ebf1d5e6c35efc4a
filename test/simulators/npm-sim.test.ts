import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import type { NpmSimulator } from '../../simulators/npm-sim.js';
import { eventually, http } from './http.js';

const API = '/api/npm.azure_config/1.0';
const TOKEN_PATH = '/api/mgmt.aaa/1.0/token';
const CREDS = { user_credentials: { username: 'admin', password: 'demo-npm-password' }, generate_refresh_token: false };

async function login(base: string): Promise<string> {
  const res = await http(base, 'POST', TOKEN_PATH, { json: CREDS });
  expect(res.status).toBe(201);
  return (res.json as { access_token: string }).access_token;
}

describe('NPM simulator', () => {
  let clock = Date.now();
  const sim: NpmSimulator = createNpmSimulator({
    staticTokens: ['static-token'],
    syncDurationMs: 50,
    now: () => clock,
  });
  let base = '';
  let token = '';

  beforeAll(async () => {
    base = await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
  });
  beforeEach(async () => {
    clock = Date.now();
    sim.reset();
    token = await login(base);
    sim.resetCounts();
  });

  describe('login (POST /api/mgmt.aaa/1.0/token)', () => {
    it('answers 201 with a bearer token that expires after the configured 15 minutes', async () => {
      const res = await http(base, 'POST', TOKEN_PATH, { json: CREDS });
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toBe('application/json');
      const body = res.json as { access_token: string; token_type: string; expires_at: number };
      expect(body.token_type).toBe('bearer');
      expect(body.access_token).toMatch(/^[\w-]{20,}$/);
      expect(body.expires_at).toBe(Math.floor((clock + 900_000) / 1000));
      expect(sim.counts()['token.post']).toBe(1);
    });

    it('issues a different token on every login', async () => {
      expect(await login(base)).not.toBe(await login(base));
    });

    it('rejects wrong credentials with AUTH_INVALID_CREDENTIALS', async () => {
      const res = await http(base, 'POST', TOKEN_PATH, {
        json: { user_credentials: { username: 'admin', password: 'nope' }, generate_refresh_token: false },
      });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error_id: 'AUTH_INVALID_CREDENTIALS', error_text: expect.any(String) });
    });

    it('rejects malformed JSON and a wrong body shape with REQUEST_INVALID_INPUT', async () => {
      const malformed = await http(base, 'POST', TOKEN_PATH, {
        body: '{"user_credentials":',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
      const wrongShape = await http(base, 'POST', TOKEN_PATH, {
        json: { username: 'admin', password: 'demo-npm-password' },
      });
      expect(wrongShape.status).toBe(400);
      expect(wrongShape.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
    });
  });

  describe('bearer authentication on azure_config routes', () => {
    it('answers AUTH_REQUIRED without an Authorization header', async () => {
      const res = await http(base, 'GET', `${API}/status`);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error_id: 'AUTH_REQUIRED', error_text: expect.any(String) });
    });

    it('answers AUTH_REQUIRED for a non-bearer scheme', async () => {
      const res = await http(base, 'GET', `${API}/status`, { headers: { authorization: 'Basic YWRtaW46eA==' } });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error_id: 'AUTH_REQUIRED' });
    });

    it('answers AUTH_INVALID_TOKEN for an unknown token', async () => {
      const res = await http(base, 'GET', `${API}/status`, { token: 'not-a-token' });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error_id: 'AUTH_INVALID_TOKEN' });
    });

    it('accepts the scheme in any case', async () => {
      const res = await http(base, 'GET', `${API}/status`, { headers: { authorization: `bearer ${token}` } });
      expect(res.status).toBe(200);
    });

    it('answers AUTH_EXPIRED_TOKEN once the token lifetime has passed', async () => {
      clock += 899_000;
      expect((await http(base, 'GET', `${API}/status`, { token })).status).toBe(200);
      clock += 1_000;
      const res = await http(base, 'GET', `${API}/status`, { token });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error_id: 'AUTH_EXPIRED_TOKEN' });
    });

    it('expireTokens() expires every token, and a new login issues a valid one', async () => {
      sim.expireTokens();
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({
        error_id: 'AUTH_EXPIRED_TOKEN',
      });
      expect((await http(base, 'GET', `${API}/status`, { token: 'static-token' })).json).toMatchObject({
        error_id: 'AUTH_EXPIRED_TOKEN',
      });
      const fresh = await login(base);
      expect((await http(base, 'GET', `${API}/status`, { token: fresh })).status).toBe(200);
    });

    it('accepts configured static tokens without login until expired, and reset() revives them', async () => {
      expect((await http(base, 'GET', `${API}/status`, { token: 'static-token' })).status).toBe(200);
      sim.expireTokens();
      expect((await http(base, 'GET', `${API}/status`, { token: 'static-token' })).status).toBe(401);
      sim.reset();
      expect((await http(base, 'GET', `${API}/status`, { token: 'static-token' })).status).toBe(200);
    });

    it('reset() revokes issued tokens', async () => {
      sim.reset();
      const res = await http(base, 'GET', `${API}/status`, { token });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error_id: 'AUTH_INVALID_TOKEN' });
    });
  });

  describe('GET /status', () => {
    it('reports the seeded, recently successful sync', async () => {
      const res = await http(base, 'GET', `${API}/status`, { token });
      expect(res.status).toBe(200);
      const body = res.json as Record<string, unknown>;
      expect(body).toEqual({
        enabled: true,
        error_text: 'OK',
        last_sync_ts: expect.any(Number),
        last_success_ts: expect.any(Number),
        error_id: 0,
        state: 'SYNC_SUCCEEDED',
      });
      const nowSeconds = Math.floor(clock / 1000);
      expect(body['last_sync_ts']).toBeLessThan(nowSeconds);
      expect(body['last_sync_ts']).toBeGreaterThan(nowSeconds - 3600);
      expect(sim.counts()['status.get']).toBe(1);
    });

    it.each([
      ['ENABLED', 'ENABLED', 'DISABLED'],
      ['true', 'true', 'false'],
    ] as const)('renders enabled as strings with enabledFormat %s', async (format, on, off) => {
      const other = createNpmSimulator({ enabledFormat: format, staticTokens: ['t'] });
      const url = await other.start();
      try {
        expect((await http(url, 'GET', `${API}/status`, { token: 't' })).json).toMatchObject({ enabled: on });
        await http(url, 'PUT', `${API}/sync/status`, { token: 't', json: { status: 'DISABLED' } });
        expect((await http(url, 'GET', `${API}/status`, { token: 't' })).json).toMatchObject({ enabled: off });
      } finally {
        await other.stop();
      }
    });
  });

  describe('PUT /sync/status', () => {
    it('DISABLED answers 204 with no body and sets SYNC_DISABLED', async () => {
      const res = await http(base, 'PUT', `${API}/sync/status`, { token, json: { status: 'DISABLED' } });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({
        enabled: false,
        state: 'SYNC_DISABLED',
      });
    });

    it('ENABLED after DISABLED sets SYNC_NA until the next sync', async () => {
      await http(base, 'PUT', `${API}/sync/status`, { token, json: { status: 'DISABLED' } });
      expect((await http(base, 'PUT', `${API}/sync/status`, { token, json: { status: 'ENABLED' } })).status).toBe(204);
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({
        enabled: true,
        state: 'SYNC_NA',
      });
    });

    it('ENABLED while enabled leaves the state alone', async () => {
      await http(base, 'PUT', `${API}/sync/status`, { token, json: { status: 'ENABLED' } });
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({ state: 'SYNC_SUCCEEDED' });
    });

    it.each([{ status: 'enabled' }, { status: true }, {}, []])(
      'rejects %j with REQUEST_INVALID_INPUT',
      async (body) => {
        const res = await http(base, 'PUT', `${API}/sync/status`, { token, json: body });
        expect(res.status).toBe(400);
        expect(res.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
      },
    );
  });

  describe('POST /sync', () => {
    it('goes SYNC_INITIALIZING, then SYNC_SUCCEEDED with fresh timestamps', async () => {
      clock += 60_000;
      const res = await http(base, 'POST', `${API}/sync`, { token });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const during = (await http(base, 'GET', `${API}/status`, { token })).json as Record<string, unknown>;
      expect(during).toMatchObject({ state: 'SYNC_INITIALIZING', last_sync_ts: Math.floor(clock / 1000) });
      await eventually(async () => sim.state().sync.state !== 'SYNC_INITIALIZING');
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({
        state: 'SYNC_SUCCEEDED',
        error_id: 0,
        error_text: 'OK',
        last_success_ts: Math.floor(clock / 1000),
      });
    });

    it('fails naming the account when an app_passwd is "invalid"', async () => {
      const before = (await http(base, 'GET', `${API}/status`, { token })).json as { last_success_ts: number };
      await http(base, 'PUT', `${API}/auth_codes`, {
        token,
        json: [{ tenant_id: 't', subscription_id: 's', acc_id: 'broken-acc', app_id: 'a', app_passwd: 'invalid' }],
      });
      await http(base, 'POST', `${API}/sync`, { token });
      await eventually(async () => sim.state().sync.state !== 'SYNC_INITIALIZING');
      const after = (await http(base, 'GET', `${API}/status`, { token })).json as Record<string, unknown>;
      expect(after).toMatchObject({ state: 'SYNC_FAILED', error_id: 1001, last_success_ts: before.last_success_ts });
      expect(after['error_text']).toContain('broken-acc');
    });

    it('succeeds with a warning when no account is configured', async () => {
      const accIds = sim.state().accounts.map((a) => ({ acc_id: a.acc_id }));
      await http(base, 'DELETE', `${API}/auth_codes`, { token, json: accIds });
      await http(base, 'POST', `${API}/sync`, { token });
      await eventually(async () => sim.state().sync.state !== 'SYNC_INITIALIZING');
      expect((await http(base, 'GET', `${API}/status`, { token })).json).toMatchObject({
        state: 'SYNC_SUCCEEDED_WITH_WARNING',
      });
    });

    it('answers 400 "sync is disabled" while sync is disabled (sim choice)', async () => {
      await http(base, 'PUT', `${API}/sync/status`, { token, json: { status: 'DISABLED' } });
      const res = await http(base, 'POST', `${API}/sync`, { token });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error_id: 'REQUEST_INVALID_INPUT', error_text: 'sync is disabled' });
    });

    it('completes synchronously when syncDurationMs is 0', async () => {
      const quick = createNpmSimulator({ syncDurationMs: 0, staticTokens: ['t'] });
      const url = await quick.start();
      try {
        await http(url, 'POST', `${API}/sync`, { token: 't' });
        expect((await http(url, 'GET', `${API}/status`, { token: 't' })).json).toMatchObject({
          state: 'SYNC_SUCCEEDED',
        });
      } finally {
        await quick.stop();
      }
    });
  });

  describe('GET /auth_codes', () => {
    it('lists the seeded accounts in insertion order without app_passwd', async () => {
      const res = await http(base, 'GET', `${API}/auth_codes`, { token });
      expect(res.status).toBe(200);
      const rows = res.json as Record<string, string>[];
      expect(rows.map((r) => r['acc_id'])).toEqual(['prod-eastus', 'staging-westeurope', 'dev-centralus']);
      for (const row of rows) {
        expect(Object.keys(row).sort()).toEqual(['acc_id', 'app_id', 'subscription_id', 'tenant_id']);
        expect(row['tenant_id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      }
      expect(res.text).not.toContain('app_passwd');
    });
  });

  describe('PUT /auth_codes', () => {
    const newAccount = {
      tenant_id: '11111111-2222-4333-8444-555555555555',
      subscription_id: '66666666-7777-4888-9999-000000000000',
      acc_id: 'prod-westus2',
      app_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
      app_passwd: 'new-secret',
    };

    it('upserts by acc_id: new accounts append, existing ones update in place', async () => {
      const res = await http(base, 'PUT', `${API}/auth_codes`, {
        token,
        json: [newAccount, { ...newAccount, acc_id: 'prod-eastus', app_id: 'changed-app', app_passwd: 'rotated' }],
      });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const rows = (await http(base, 'GET', `${API}/auth_codes`, { token })).json as Record<string, string>[];
      expect(rows.map((r) => r['acc_id'])).toEqual([
        'prod-eastus',
        'staging-westeurope',
        'dev-centralus',
        'prod-westus2',
      ]);
      expect(rows[0]).toMatchObject({ acc_id: 'prod-eastus', app_id: 'changed-app' });
      const stored = sim.state().accounts;
      expect(stored.find((a) => a.acc_id === 'prod-eastus')?.app_passwd).toBe('rotated');
      expect(stored.find((a) => a.acc_id === 'prod-westus2')?.app_passwd).toBe('new-secret');
    });

    // Each invalid body also carries a valid element first, to prove the upsert is all or nothing.
    const valid = { ...newAccount, acc_id: 'valid-first' };
    it.each([
      ['a missing app_passwd', [valid, { ...newAccount, app_passwd: undefined }]],
      ['an empty tenant_id', [valid, { ...newAccount, tenant_id: '' }]],
      ['a blank app_id', [valid, { ...newAccount, app_id: '   ' }]],
      ['a non-string acc_id', [valid, { ...newAccount, acc_id: 42 }]],
      ['an object instead of an array', newAccount],
    ])('rejects %s with REQUEST_INVALID_INPUT and stores nothing', async (_label, body) => {
      const res = await http(base, 'PUT', `${API}/auth_codes`, { token, json: body });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
      expect(sim.state().accounts.map((a) => a.acc_id)).toEqual(['prod-eastus', 'staging-westeurope', 'dev-centralus']);
    });

    it('rejects a body that is not JSON', async () => {
      const res = await http(base, 'PUT', `${API}/auth_codes`, {
        token,
        body: '[{',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
    });
  });

  describe('DELETE /auth_codes', () => {
    it('deletes the listed accounts and answers 204', async () => {
      const res = await http(base, 'DELETE', `${API}/auth_codes`, {
        token,
        json: [{ acc_id: 'prod-eastus' }, { acc_id: 'dev-centralus' }],
      });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const rows = (await http(base, 'GET', `${API}/auth_codes`, { token })).json as Record<string, string>[];
      expect(rows.map((r) => r['acc_id'])).toEqual(['staging-westeurope']);
    });

    it('answers 404 RESOURCE_NOT_FOUND for an unknown acc_id and deletes nothing', async () => {
      const res = await http(base, 'DELETE', `${API}/auth_codes`, {
        token,
        json: [{ acc_id: 'prod-eastus' }, { acc_id: 'ghost' }],
      });
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ error_id: 'RESOURCE_NOT_FOUND' });
      expect((res.json as { error_text: string }).error_text).toContain('ghost');
      expect(sim.state().accounts).toHaveLength(3);
    });

    it('answers 400 for a missing or malformed body', async () => {
      expect((await http(base, 'DELETE', `${API}/auth_codes`, { token })).json).toMatchObject({
        error_id: 'REQUEST_INVALID_INPUT',
      });
      expect((await http(base, 'DELETE', `${API}/auth_codes`, { token, json: [{ id: 'prod-eastus' }] })).status).toBe(
        400,
      );
      expect(sim.state().accounts).toHaveLength(3);
    });
  });

  describe('routing', () => {
    it('answers an unknown path with 404 RESOURCE_NOT_FOUND and does not count it', async () => {
      const res = await http(base, 'GET', `${API}/aws_accounts`, { token });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.json).toMatchObject({ error_id: 'RESOURCE_NOT_FOUND' });
      expect(sim.counts()['total']).toBe(0);
    });

    it('answers a known path with a wrong method with 405 HTTP_INVALID_METHOD', async () => {
      const res = await http(base, 'POST', `${API}/status`, { token });
      expect(res.status).toBe(405);
      expect(res.json).toMatchObject({ error_id: 'HTTP_INVALID_METHOD' });
      expect(res.headers['allow']).toBe('GET');
    });

    it('answers an oversized body with the vendor error body', async () => {
      const res = await http(base, 'PUT', `${API}/auth_codes`, { token, body: `[${'"x",'.repeat(300_000)}"x"]` });
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ error_id: 'REQUEST_INVALID_INPUT' });
    });
  });
});
