import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import type { AxisSimulator } from '../../simulators/axis-sim.js';
import { FaultInjector, RequestCounter } from '../../simulators/faults.js';
import { createNpmSimulator } from '../../simulators/npm-sim.js';
import type { NpmSimulator } from '../../simulators/npm-sim.js';
import { http } from './http.js';

const NPM_API = '/api/npm.azure_config/1.0';
const TOKEN_PATH = '/api/mgmt.aaa/1.0/token';
const CREDS = { user_credentials: { username: 'admin', password: 'demo-npm-password' }, generate_refresh_token: false };
const RW = 'demo-axis-rw-token';

async function failureCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  throw new Error('request unexpectedly succeeded');
}

describe('fault injection, counting and the control API', () => {
  const npm: NpmSimulator = createNpmSimulator({ staticTokens: ['npm-token'] });
  const axis: AxisSimulator = createAxisSimulator({ seedUsers: 10, seedGroups: 3 });
  let npmUrl = '';
  let axisUrl = '';

  beforeAll(async () => {
    npmUrl = await npm.start();
    axisUrl = await axis.start();
  });
  afterAll(async () => {
    await Promise.all([npm.stop(), axis.stop()]);
  });
  beforeEach(() => {
    npm.reset();
    axis.reset();
  });

  describe('fault actions', () => {
    it('status: answers the given status, JSON body and headers, and still counts the request', async () => {
      axis.addFault({
        route: 'users.list',
        action: { type: 'status', status: 429, body: { slow: 'down' }, headers: { 'Retry-After': '2' } },
      });
      const res = await http(axisUrl, 'GET', '/api/v1/users', { token: RW });
      expect(res.status).toBe(429);
      expect(res.json).toEqual({ slow: 'down' });
      expect(res.headers['retry-after']).toBe('2');
      expect(axis.counts()).toMatchObject({ 'users.list': 1, total: 1 });
    });

    it('status without a body answers an empty body', async () => {
      npm.addFault({ action: { type: 'status', status: 503 } });
      const res = await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(res.status).toBe(503);
      expect(res.text).toBe('');
    });

    it('error: answers the NPM error body with a default or given error id', async () => {
      npm.addFault({ route: 'status.get', times: 1, action: { type: 'error', status: 500 } });
      npm.addFault({
        route: 'status.get',
        times: 1,
        action: { type: 'error', status: 401, errorId: 'AUTH_INVALID_SESSION', text: 'gone' },
      });
      const first = await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(first.status).toBe(500);
      expect(first.json).toEqual({ error_id: 'INTERNAL_ERROR', error_text: expect.any(String) });
      const second = await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(second.status).toBe(401);
      expect(second.json).toEqual({ error_id: 'AUTH_INVALID_SESSION', error_text: 'gone' });
    });

    it.each([
      [429, 'TooManyRequests'],
      [500, 'InternalServerError'],
      [502, 'BadGateway'],
      [503, 'ServiceUnavailable'],
      [504, 'GatewayTimeout'],
    ])('error: answers the Axis error body with the .NET name of %i', async (status, name) => {
      axis.addFault({ action: { type: 'error', status, text: 'boom' } });
      const res = await http(axisUrl, 'GET', '/api/v1/groups', { token: RW });
      expect(res.status).toBe(status);
      expect(res.json).toEqual({ status: name, details: 'boom' });
    });

    it('error: an explicit errorId overrides the Axis status name', async () => {
      axis.addFault({ action: { type: 'error', status: 500, errorId: 'Custom' } });
      expect((await http(axisUrl, 'GET', '/api/v1/groups', { token: RW })).json).toMatchObject({ status: 'Custom' });
    });

    it('error: adds the given headers, e.g. Retry-After on a vendor 503', async () => {
      npm.addFault({ route: 'status.get', action: { type: 'error', status: 503, headers: { 'Retry-After': '7' } } });
      axis.addFault({ route: 'users.list', action: { type: 'error', status: 503, headers: { 'Retry-After': '3' } } });
      const fromNpm = await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(fromNpm.status).toBe(503);
      expect(fromNpm.headers['retry-after']).toBe('7');
      expect(fromNpm.headers['content-type']).toBe('application/json');
      expect(fromNpm.json).toEqual({ error_id: expect.any(String), error_text: expect.any(String) });
      const fromAxis = await http(axisUrl, 'GET', '/api/v1/users', { token: RW });
      expect(fromAxis.status).toBe(503);
      expect(fromAxis.headers['retry-after']).toBe('3');
      expect(fromAxis.json).toEqual({ status: 'ServiceUnavailable', details: expect.any(String) });
    });

    it("probability: the simulator's random source decides which matching requests are affected", async () => {
      const draws = [0.9, 0.2, 0.6, 0.1];
      const sim = createAxisSimulator({ seedUsers: 1, seedGroups: 1, random: () => draws.shift() ?? 0.99 });
      const url = await sim.start();
      try {
        sim.addFault({ route: 'users.list', times: 2, probability: 0.5, action: { type: 'error', status: 503 } });
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) statuses.push((await http(url, 'GET', '/api/v1/users', { token: RW })).status);
        // Draws 0.2 and 0.1 are below 0.5; the rule is used up after those two, so the last request draws nothing.
        expect(statuses).toEqual([200, 503, 200, 503, 200]);
        expect(draws).toEqual([]);
        expect(sim.counts()['users.list']).toBe(5);
      } finally {
        await sim.stop();
      }
    });

    it('delay: waits, then handles the request normally', async () => {
      axis.addFault({ route: 'users.get', action: { type: 'delay', ms: 120 } });
      const started = Date.now();
      const res = await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW });
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: 'u-0001' });
    });

    it('hang: never answers, and stop() still returns promptly', async () => {
      const sim = createAxisSimulator({ seedUsers: 1, seedGroups: 1 });
      const url = await sim.start();
      sim.addFault({ action: { type: 'hang' } });
      const hung = http(url, 'GET', '/api/v1/users', { token: RW });
      const outcome = await Promise.race([
        hung.then(
          () => 'answered',
          () => 'failed',
        ),
        new Promise((r) => setTimeout(() => r('pending'), 150)),
      ]);
      expect(outcome).toBe('pending');
      expect(sim.counts()['users.list']).toBe(1);
      const started = Date.now();
      await sim.stop();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await failureCode(hung)).toBe('UND_ERR_SOCKET');
    });

    it('reset: destroys the connection without a response (ECONNRESET)', async () => {
      npm.addFault({ route: 'authCodes.put', action: { type: 'reset' } });
      const code = await failureCode(http(npmUrl, 'PUT', `${NPM_API}/auth_codes`, { token: 'npm-token', json: [] }));
      expect(code).toBe('ECONNRESET');
      expect(npm.counts()['authCodes.put']).toBe(1);
    });

    it('malformed: answers 200 application/json with a body that is not JSON', async () => {
      npm.addFault({ action: { type: 'malformed' } });
      const res = await http(npmUrl, 'GET', `${NPM_API}/auth_codes`, { token: 'npm-token' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json');
      expect(() => JSON.parse(res.text) as unknown).toThrow();
    });

    it('wrongShape: answers an object for list routes and an unexpected object for object routes', async () => {
      npm.addFault({ action: { type: 'wrongShape' } });
      axis.addFault({ action: { type: 'wrongShape' } });
      expect((await http(npmUrl, 'GET', `${NPM_API}/auth_codes`, { token: 'npm-token' })).json).toEqual({
        data: 'nope',
      });
      expect((await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' })).json).toEqual({
        unexpected: true,
      });
      expect((await http(axisUrl, 'GET', '/api/v1/users', { token: RW })).json).toEqual({ data: 'nope' });
      expect((await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW })).json).toEqual({ unexpected: true });
    });

    it('error: optional headers go out with the vendor error body', async () => {
      npm.addFault({
        route: 'status.get',
        action: { type: 'error', status: 503, headers: { 'Retry-After': '1' } },
      });
      const res = await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json).toEqual({ error_id: expect.any(String), error_text: expect.any(String) });
    });

    it('faults apply before auth: an outage looks the same to every caller', async () => {
      axis.addFault({ action: { type: 'error', status: 503 } });
      expect((await http(axisUrl, 'GET', '/api/v1/users')).status).toBe(503);
    });
  });

  describe('rule matching', () => {
    it('times: affects exactly that many matching requests', async () => {
      axis.addFault({ route: 'users.get', times: 2, action: { type: 'error', status: 500 } });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW })).status);
      expect(statuses).toEqual([500, 500, 200]);
      expect(axis.counts()['users.get']).toBe(3);
    });

    it('a faulted write still counts and is not applied (no duplicated writes to prove)', async () => {
      axis.addFault({ route: 'users.create', times: 1, action: { type: 'error', status: 502 } });
      const user = { userName: 'once', email: 'once@example.com', firstName: 'O', lastName: 'Nce' };
      expect((await http(axisUrl, 'POST', '/api/v1/users', { token: RW, json: user })).status).toBe(502);
      expect((await http(axisUrl, 'POST', '/api/v1/users', { token: RW, json: user })).status).toBe(200);
      expect(axis.counts()['users.create']).toBe(2);
      expect(axis.state().users.filter((u) => u.userName === 'once')).toHaveLength(1);
    });

    it('matches on route and method; the first matching rule wins', async () => {
      axis.addFault({ route: 'users.get', method: 'get', action: { type: 'error', status: 502 } });
      axis.addFault({ route: 'users.get', action: { type: 'error', status: 503 } });
      axis.addFault({ method: 'DELETE', action: { type: 'error', status: 504 } });
      expect((await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW })).status).toBe(502);
      expect((await http(axisUrl, 'GET', '/api/v1/groups/g-001', { token: RW })).status).toBe(200);
      expect((await http(axisUrl, 'DELETE', '/api/v1/groups/g-001', { token: RW })).status).toBe(504);
    });

    it('wildcard rules skip the NPM login; a rule naming token.post breaks it', async () => {
      npm.addFault({ route: '*', action: { type: 'error', status: 503 } });
      expect((await http(npmUrl, 'POST', TOKEN_PATH, { json: CREDS })).status).toBe(201);
      npm.clearFaults();
      npm.addFault({ route: 'token.post', times: 1, action: { type: 'error', status: 503 } });
      const res = await http(npmUrl, 'POST', TOKEN_PATH, { json: CREDS });
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ error_id: 'INTERNAL_ERROR' });
    });

    it('rejects an unknown route name or an invalid action instead of silently never firing', () => {
      expect(() => axis.addFault({ route: 'user.get', action: { type: 'hang' } })).toThrow(/unknown route "user.get"/);
      expect(() => axis.addFault({ action: { type: 'explode' } } as never)).toThrow(/invalid fault rule/);
      expect(() => axis.addFault({ times: 0, action: { type: 'hang' } })).toThrow(/times/);
    });

    it('clearFaults() removes every rule', async () => {
      axis.addFault({ action: { type: 'error', status: 500 } });
      axis.clearFaults();
      expect((await http(axisUrl, 'GET', '/api/v1/users', { token: RW })).status).toBe(200);
    });
  });

  describe('latency', () => {
    it('setLatency() delays every API response but not the control API', async () => {
      npm.setLatency(120);
      let started = Date.now();
      expect((await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' })).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);
      started = Date.now();
      await http(npmUrl, 'GET', '/__sim/counts');
      expect(Date.now() - started).toBeLessThan(100);
    });

    it('reset() sets latency back to 0', async () => {
      npm.setLatency(500);
      npm.reset();
      const started = Date.now();
      await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      expect(Date.now() - started).toBeLessThan(250);
    });

    it('refuses a negative latency', () => {
      expect(() => npm.setLatency(-1)).toThrow();
    });
  });

  describe('requests in flight', () => {
    it('peakInFlight() is the most API requests open at once, in all and per x-request-id; resetCounts() clears it', async () => {
      axis.setLatency(100);
      const get = (id: string) => http(axisUrl, 'GET', '/api/v1/users', { token: RW, headers: { 'x-request-id': id } });
      await Promise.all([get('a'), get('a'), get('a'), get('b')]);
      await http(axisUrl, 'GET', '/__sim/counts'); // the control API is not counted
      expect(axis.peakInFlight()).toBe(4);
      expect(axis.peakInFlight('a')).toBe(3);
      expect(axis.peakInFlight('b')).toBe(1);
      expect(axis.peakInFlight('never-seen')).toBe(0);
      // One after another: never more than one at once.
      await get('c');
      await get('c');
      expect(axis.peakInFlight('c')).toBe(1);
      axis.resetCounts();
      expect(axis.peakInFlight()).toBe(0);
      expect(axis.peakInFlight('a')).toBe(0);
    });
  });

  describe('counts', () => {
    it('counts every API route by name plus total, never /__sim/* or unknown paths', async () => {
      await http(npmUrl, 'POST', TOKEN_PATH, { json: CREDS });
      await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' });
      await http(npmUrl, 'GET', `${NPM_API}/status`);
      await http(npmUrl, 'PUT', `${NPM_API}/sync/status`, { token: 'npm-token', json: { status: 'ENABLED' } });
      await http(npmUrl, 'POST', `${NPM_API}/sync`, { token: 'npm-token' });
      await http(npmUrl, 'GET', `${NPM_API}/auth_codes`, { token: 'npm-token' });
      await http(npmUrl, 'PUT', `${NPM_API}/auth_codes`, { token: 'npm-token', json: [] });
      await http(npmUrl, 'DELETE', `${NPM_API}/auth_codes`, { token: 'npm-token', json: [] });
      await http(npmUrl, 'GET', '/nowhere');
      await http(npmUrl, 'GET', '/__sim/counts');
      expect(npm.counts()).toEqual({
        'token.post': 1,
        'status.get': 2,
        'syncStatus.put': 1,
        'sync.post': 1,
        'authCodes.get': 1,
        'authCodes.put': 1,
        'authCodes.delete': 1,
        total: 8,
      });
      npm.resetCounts();
      expect(npm.counts()['total']).toBe(0);
    });
  });

  describe('control API over HTTP', () => {
    it('GET /__sim/counts and POST /__sim/reset-counts', async () => {
      await http(axisUrl, 'GET', '/api/v1/users', { token: RW });
      const counts = await http(axisUrl, 'GET', '/__sim/counts');
      expect(counts.status).toBe(200);
      expect(counts.json).toMatchObject({ 'users.list': 1, total: 1 });
      expect((await http(axisUrl, 'POST', '/__sim/reset-counts')).status).toBe(204);
      expect(axis.counts()['total']).toBe(0);
    });

    it('POST /__sim/faults installs a rule and DELETE /__sim/faults removes them', async () => {
      const added = await http(axisUrl, 'POST', '/__sim/faults', {
        json: { route: 'users.get', action: { type: 'error', status: 503 } },
      });
      expect(added.status).toBe(204);
      expect((await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW })).status).toBe(503);
      expect((await http(axisUrl, 'DELETE', '/__sim/faults')).status).toBe(204);
      expect((await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW })).status).toBe(200);
    });

    it('POST /__sim/faults accepts probability and error headers, and /__sim/state lists them', async () => {
      const rule = {
        route: 'groups.list',
        probability: 1,
        action: { type: 'error', status: 503, headers: { 'Retry-After': '1' } },
      };
      expect((await http(axisUrl, 'POST', '/__sim/faults', { json: rule })).status).toBe(204);
      const res = await http(axisUrl, 'GET', '/api/v1/groups', { token: RW });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect((await http(axisUrl, 'GET', '/__sim/state')).json).toMatchObject({ faults: [rule] });
    });

    it.each([0, -0.5, 1.5, '0.5'])('POST /__sim/faults answers 400 for probability %j', async (probability) => {
      const res = await http(axisUrl, 'POST', '/__sim/faults', {
        json: { probability, action: { type: 'hang' } },
      });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: expect.stringContaining('probability') });
      expect((await http(axisUrl, 'GET', '/__sim/state')).json).toMatchObject({ faults: [] });
    });

    it('POST /__sim/faults answers 400 for an invalid rule or malformed JSON', async () => {
      const unknown = await http(axisUrl, 'POST', '/__sim/faults', {
        json: { route: 'nope', action: { type: 'hang' } },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.json).toEqual({ error: expect.stringContaining('unknown route') });
      expect((await http(axisUrl, 'POST', '/__sim/faults', { body: '{' })).status).toBe(400);
    });

    it('POST /__sim/latency sets the latency', async () => {
      expect((await http(axisUrl, 'POST', '/__sim/latency', { json: { ms: 100 } })).status).toBe(204);
      const started = Date.now();
      await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW });
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      expect((await http(axisUrl, 'POST', '/__sim/latency', { json: { ms: -5 } })).status).toBe(400);
    });

    it('POST /__sim/expire-tokens expires tokens and POST /__sim/reset restores everything', async () => {
      await http(axisUrl, 'DELETE', '/api/v1/users/u-0001', { token: RW });
      expect((await http(axisUrl, 'POST', '/__sim/expire-tokens')).status).toBe(204);
      expect((await http(axisUrl, 'GET', '/api/v1/users', { token: RW })).json).toMatchObject({
        details: expect.stringMatching(/expired/i),
      });
      await http(axisUrl, 'POST', '/__sim/faults', { json: { action: { type: 'hang' } } });
      expect((await http(axisUrl, 'POST', '/__sim/reset')).status).toBe(204);
      const res = await http(axisUrl, 'GET', '/api/v1/users/u-0001', { token: RW });
      expect(res.status).toBe(200);
      expect(axis.counts()['total']).toBe(1);
    });

    it('GET /__sim/state shows NPM accounts with app_passwd and the sync state', async () => {
      await http(npmUrl, 'PUT', `${NPM_API}/auth_codes`, {
        token: 'npm-token',
        json: [{ tenant_id: 't', subscription_id: 's', acc_id: 'new-acc', app_id: 'a', app_passwd: 'pw-arrived' }],
      });
      const state = (await http(npmUrl, 'GET', '/__sim/state')).json as {
        accounts: { acc_id: string; app_passwd: string }[];
        sync: { enabled: boolean; state: string };
        faults: unknown[];
        latencyMs: number;
      };
      expect(state.accounts.find((a) => a.acc_id === 'new-acc')?.app_passwd).toBe('pw-arrived');
      expect(state.sync).toMatchObject({ enabled: true, state: 'SYNC_SUCCEEDED' });
      expect(state).toMatchObject({ faults: [], latencyMs: 0 });
    });

    it('GET /__sim/state shows Axis pending changes, commits and stored keys', async () => {
      await http(axisUrl, 'POST', '/api/v1/commit', { token: RW });
      await http(axisUrl, 'PUT', '/api/v1/users/u-0001', {
        token: RW,
        json: { userName: 'k', email: 'k@example.com', firstName: 'K', lastName: 'K', sshPrivateKey: 'secret-key' },
      });
      const res = await http(axisUrl, 'GET', '/__sim/state');
      const state = res.json as {
        pendingChanges: number;
        commits: number;
        users: { id: string; hasSshPrivateKey: boolean }[];
      };
      expect(state).toMatchObject({ pendingChanges: 1, commits: 1 });
      expect(state.users.find((u) => u.id === 'u-0001')?.hasSshPrivateKey).toBe(true);
      expect(res.text).not.toContain('secret-key');
    });

    it('is never faulted, counted or authenticated', async () => {
      axis.addFault({ action: { type: 'hang' } });
      expect((await http(axisUrl, 'GET', '/__sim/health')).json).toEqual({ ok: true, sim: 'axis-sim' });
      expect((await http(axisUrl, 'GET', '/__sim/counts')).status).toBe(200);
      expect(axis.counts()['total']).toBe(0);
    });

    it('answers 404 for an unknown control endpoint and 405 for a wrong method', async () => {
      expect((await http(npmUrl, 'GET', '/__sim/nope')).status).toBe(404);
      const wrong = await http(npmUrl, 'GET', '/__sim/reset');
      expect(wrong.status).toBe(405);
      expect(wrong.headers['allow']).toBe('POST');
    });
  });

  describe('robustness', () => {
    it('survives garbage input and keeps serving', async () => {
      const inputs: [string, string, string | undefined][] = [
        ['GET', '/api/v1/users/%E0%A4%A', undefined],
        ['POST', '/api/v1/users', '\u0000\u0001'],
        ['PUT', '/api/v1/groups/g-001', 'null'],
        ['POST', '/api/v1/groups', '"just a string"'],
        ['GET', '/api/v1/users?pageSize=%ZZ', undefined],
        ['GET', '//', undefined],
      ];
      for (const [method, path, body] of inputs) {
        const res = await http(axisUrl, method, path, { token: RW, ...(body === undefined ? {} : { body }) });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.json).toMatchObject({ status: expect.any(String), details: expect.any(String) });
      }
      expect((await http(axisUrl, 'GET', '/api/v1/users', { token: RW })).status).toBe(200);
    });

    it('survives a client that sends a bad request line and disconnects', async () => {
      await new Promise<void>((resolve) => {
        const url = new URL(npmUrl);
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.end('NOT HTTP AT ALL\r\n\r\n');
        });
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
      expect((await http(npmUrl, 'GET', `${NPM_API}/status`, { token: 'npm-token' })).status).toBe(200);
    });

    it('stop() closes idle keep-alive sockets promptly and start() is refused twice', async () => {
      const sim = createNpmSimulator({ staticTokens: ['t'] });
      const url = await sim.start();
      await expect(sim.start()).rejects.toThrow(/already started/);
      await http(url, 'GET', `${NPM_API}/status`, { token: 't' });
      const started = Date.now();
      await sim.stop();
      expect(Date.now() - started).toBeLessThan(500);
      await sim.stop();
    });

    it('stop() cancels latency sleeps and pending sync timers', async () => {
      const sim = createNpmSimulator({ staticTokens: ['t'], syncDurationMs: 60_000 });
      const url = await sim.start();
      await http(url, 'POST', `${NPM_API}/sync`, { token: 't' });
      expect(sim.state().sync.inProgress).toBe(true);
      sim.setLatency(60_000);
      const slow = http(url, 'GET', `${NPM_API}/status`, { token: 't' });
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await sim.stop();
      expect(Date.now() - started).toBeLessThan(500);
      expect(sim.state().sync.inProgress).toBe(false);
      await expect(slow).rejects.toThrow();
    });
  });
});

describe('FaultInjector and RequestCounter', () => {
  it('consumes limited rules and drops them at zero', () => {
    const faults = new FaultInjector(['a', 'b']);
    faults.add({ route: 'a', times: 1, action: { type: 'hang' } });
    expect(faults.take('a', 'GET')).toEqual({ type: 'hang' });
    expect(faults.take('a', 'GET')).toBeUndefined();
    expect(faults.size).toBe(0);
  });

  it('probability: a matching request is affected when the random draw is below it; times counts only those', () => {
    const draws = [0.9, 0.1, 0.5, 0.2, 0.0];
    const faults = new FaultInjector(['a'], [], () => draws.shift() ?? 1);
    faults.add({ route: 'a', times: 2, probability: 0.25, action: { type: 'reset' } });
    const taken = Array.from({ length: 5 }, () => faults.take('a', 'GET')?.type);
    // 0.9 and 0.5 spare the request; 0.1 and 0.2 consume both uses; the rule is gone for 0.0.
    expect(taken).toEqual([undefined, 'reset', undefined, 'reset', undefined]);
    expect(faults.size).toBe(0);
  });

  it('probability: a spared request falls through to the next matching rule', () => {
    const faults = new FaultInjector(['a'], [], () => 0.5);
    faults.add({ route: 'a', probability: 0.1, action: { type: 'reset' } });
    faults.add({ route: 'a', probability: 0.6, action: { type: 'malformed' } });
    expect(faults.take('a', 'GET')).toEqual({ type: 'malformed' });
    expect(faults.list()).toEqual([
      { route: 'a', probability: 0.1, action: { type: 'reset' } },
      { route: 'a', probability: 0.6, action: { type: 'malformed' } },
    ]);
  });

  it('probability must be above 0 and at most 1', () => {
    const faults = new FaultInjector(['a']);
    expect(() => faults.add({ probability: 0, action: { type: 'hang' } })).toThrow(/probability/);
    expect(() => faults.add({ probability: 1.5, action: { type: 'hang' } })).toThrow(/probability/);
    faults.add({ probability: 1, action: { type: 'hang' } });
    expect(faults.take('a', 'GET')).toEqual({ type: 'hang' });
  });

  it('lists active rules with their remaining uses', () => {
    const faults = new FaultInjector(['a']);
    faults.add({ route: 'a', method: 'post', times: 3, action: { type: 'malformed' } });
    faults.take('a', 'POST');
    expect(faults.list()).toEqual([{ route: 'a', method: 'POST', times: 2, action: { type: 'malformed' } }]);
  });

  it('affects a matching request only when the random draw is below probability', () => {
    const draws = [0.3, 0.29, 0.5];
    const faults = new FaultInjector(['a'], [], () => draws.shift() ?? 0);
    faults.add({ route: 'a', probability: 0.3, action: { type: 'hang' } });
    expect(faults.take('a', 'GET')).toBeUndefined();
    expect(faults.take('a', 'GET')).toEqual({ type: 'hang' });
    expect(faults.take('a', 'GET')).toBeUndefined();
    expect(faults.size).toBe(1);
  });

  it('counts only affected requests towards times, and lets spared ones reach later rules', () => {
    const draws = [0.8, 0.1, 0.8];
    const faults = new FaultInjector(['a'], [], () => draws.shift() ?? 0);
    faults.add({ route: 'a', times: 1, probability: 0.5, action: { type: 'reset' } });
    faults.add({ route: 'a', action: { type: 'malformed' } });
    expect(faults.list()[0]).toEqual({ route: 'a', times: 1, probability: 0.5, action: { type: 'reset' } });
    expect(faults.take('a', 'GET')).toEqual({ type: 'malformed' });
    expect(faults.take('a', 'GET')).toEqual({ type: 'reset' });
    expect(faults.take('a', 'GET')).toEqual({ type: 'malformed' });
    expect(draws).toEqual([0.8]);
  });

  it('does not draw for a rule without probability or a request that does not match', () => {
    let drawn = 0;
    const faults = new FaultInjector(['a', 'b'], [], () => {
      drawn += 1;
      return 0;
    });
    faults.add({ route: 'a', probability: 0.5, action: { type: 'hang' } });
    faults.add({ route: 'b', action: { type: 'hang' } });
    faults.take('b', 'GET');
    expect(drawn).toBe(0);
  });

  it('rejects a probability outside (0, 1]', () => {
    const faults = new FaultInjector(['a']);
    for (const probability of [0, -1, 1.01, Number.NaN]) {
      expect(() => faults.add({ route: 'a', probability, action: { type: 'hang' } })).toThrow(/probability/);
    }
    faults.add({ route: 'a', probability: 1, action: { type: 'hang' } });
    expect(faults.take('a', 'GET')).toEqual({ type: 'hang' });
  });

  it('counts per route and in total', () => {
    const counter = new RequestCounter(['x', 'y']);
    counter.hit('x');
    counter.hit('x');
    counter.hit('y');
    expect(counter.snapshot()).toEqual({ x: 2, y: 1, total: 3 });
    counter.reset();
    expect(counter.snapshot()).toEqual({ x: 0, y: 0, total: 0 });
  });
});
