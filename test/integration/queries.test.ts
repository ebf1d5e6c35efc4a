import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codes, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const DASHBOARD =
  '{ azureStatus { enabled state lastSyncAt } azureAccounts { accId tenantId } users(pageSize: 50) { totalRecords nodes { id userName email groups { id name } } } }';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.npmSim.reset();
  stack.axisSim.reset();
});

describe('Azure queries', () => {
  it('azureStatus converts epoch seconds to DateTime and reads enabled', async () => {
    const res = await stack.gql('{ azureStatus { enabled state errorId errorText lastSyncAt lastSuccessAt } }');
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const status = res.body.data?.['azureStatus'] as Record<string, unknown>;
    const sim = stack.npmSim.state().sync;
    expect(status).toEqual({
      enabled: true,
      state: 'SYNC_SUCCEEDED',
      errorId: 0,
      errorText: sim.error_text,
      lastSyncAt: new Date(sim.last_sync_ts * 1000).toISOString(),
      lastSuccessAt: new Date(sim.last_success_ts * 1000).toISOString(),
    });
  });

  it('azureAccounts lists the accounts without any password field', async () => {
    const res = await stack.gql('{ azureAccounts { accId tenantId subscriptionId appId } }');
    const accounts = res.body.data?.['azureAccounts'] as Array<Record<string, string>>;
    expect(accounts.map((a) => a.accId)).toEqual(stack.npmSim.state().accounts.map((a) => a.acc_id));
    expect(accounts[0]).toEqual({
      accId: 'prod-eastus',
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      subscriptionId: '3c9d2f4e-8b1a-4e6f-9d2c-5a7b8e1f0c3d',
      appId: 'b5e1c2d3-4f6a-47b8-9c0d-1e2f3a4b5c6d',
    });
    expect(JSON.stringify(res.body)).not.toContain('demo-secret');
  });

  it('every azureAccount lookup in one request shares ONE GET /auth_codes', async () => {
    await stack.gql('{ azureStatus { state } }'); // log in first, so only data calls are counted
    stack.resetCounts();
    const res = await stack.gql(`{
      a: azureAccount(accId: "prod-eastus") { accId }
      b: azureAccount(accId: "dev-centralus") { accId appId }
      c: azureAccount(accId: "no-such-account") { accId }
      all: azureAccounts { accId }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ a: { accId: 'prod-eastus' }, b: { accId: 'dev-centralus' }, c: null });
    expect(stack.calls()).toEqual({ 'npm:authCodes.get': 1, 'npm:total': 1 });
  });
});

describe('Axis queries', () => {
  it('users pages through the IdP with its envelope', async () => {
    const res = await stack.gql(
      '{ users(pageSize: 50, pageNumber: 3) { pageNumber pageSize totalPages totalRecords nodes { id } } }',
    );
    expect(res.body.data?.['users']).toMatchObject({ pageNumber: 3, pageSize: 50, totalPages: 3, totalRecords: 120 });
    const nodes = (res.body.data?.['users'] as { nodes: Array<{ id: string }> }).nodes;
    expect(nodes).toHaveLength(20);
    expect(nodes[0]?.id).toBe('u-0101');
  });

  it('user returns every field, and null for an unknown id', async () => {
    const seed = stack.axisSim.state().users.find((u) => u.hasSshPrivateKey && u.groupIds.length > 0)!;
    const res = await stack.gql(
      `query($id: ID!) {
        user(id: $id) { id userName email firstName lastName enabled expiration hasSshPrivateKey groups { id name } }
        missing: user(id: "u-9999") { id }
      }`,
      { id: seed.id },
    );
    expect(res.body.errors).toBeUndefined();
    const groupNames = new Map(stack.axisSim.state().groups.map((g) => [g.id, g.name]));
    expect(res.body.data).toEqual({
      user: {
        id: seed.id,
        userName: seed.userName,
        email: seed.email,
        firstName: seed.firstName,
        lastName: seed.lastName,
        enabled: seed.enabled,
        expiration: seed.expiration,
        hasSshPrivateKey: true,
        groups: seed.groupIds.map((id) => ({ id, name: groupNames.get(id) })),
      },
      missing: null,
    });
  });

  it('groups { id name } inside users costs no call beyond the page', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ users(pageSize: 50) { totalRecords nodes { id userName email groups { id name } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(stack.calls()).toEqual({ 'axis:users.list': 1, 'axis:total': 1 });
  });

  it('a user already on a page is never fetched again in the same request', async () => {
    stack.resetCounts();
    const res = await stack.gql(`{
      users(pageSize: 10) { nodes { id } }
      a: user(id: "u-0003") { email }
      b: user(id: "u-0003") { firstName }
    }`);
    expect(res.body.errors).toBeUndefined();
    // user(...) resolves in parallel with users(...), so one GET may run before the page is
    // primed; never more than one for the same id.
    expect(stack.calls()['axis:users.get'] ?? 0).toBeLessThanOrEqual(1);

    stack.resetCounts();
    await stack.gql('{ users(pageSize: 10) { nodes { id groups { id } } } }');
    await stack.gql('{ u: user(id: "u-0004") { id } again: user(id: "u-0004") { email } }');
    expect(stack.calls()).toEqual({ 'axis:users.list': 1, 'axis:users.get': 1, 'axis:total': 2 });
  });

  it('many group members are read with one user list instead of a GET each', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ groups(pageSize: 3) { nodes { id name description users { id userName email } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const groups = (res.body.data?.['groups'] as { nodes: Array<{ users: Array<{ id: string; email: string }> }> })
      .nodes;
    const distinct = new Set(groups.flatMap((g) => g.users.map((u) => u.id)));
    expect(distinct.size).toBeGreaterThanOrEqual(8);
    expect(stack.calls()).toEqual({ 'axis:groups.list': 1, 'axis:users.list': 1, 'axis:total': 2 });
    const expectedEmails = new Map(stack.axisSim.state().users.map((u) => [u.id, u.email]));
    for (const u of groups.flatMap((g) => g.users)) expect(u.email).toBe(expectedEmails.get(u.id));
  });

  it('a few members are read by single GETs, each once', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ a: user(id: "u-0001") { email } b: user(id: "u-0002") { email } c: user(id: "u-0001") { id } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(stack.calls()).toEqual({ 'axis:users.get': 2, 'axis:total': 2 });
  });

  it('the nested benchmark query (users -> groups -> members) takes three calls in two levels', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ users(pageSize: 30) { nodes { id groups { id name description users { id userName email } } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(stack.calls()).toEqual({
      'axis:users.list': 2, // the page of 30, and the whole tenant (1000 per page) for the members
      'axis:groups.list': 1,
      'axis:total': 3,
    });
    const nodes = (res.body.data?.['users'] as { nodes: Array<{ groups: Array<{ users: Array<{ email: string }> }> }> })
      .nodes;
    expect(nodes).toHaveLength(30);
    expect(nodes.flatMap((n) => n.groups.flatMap((g) => g.users)).every((u) => u.email.includes('@'))).toBe(true);
  });

  it('group returns its members by userName with no member fetch, and null when absent', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ group(id: "g-001") { id name description users { id userName } } missing: group(id: "g-999") { id } }',
    );
    expect(res.body.errors).toBeUndefined();
    const seed = stack.axisSim.state().groups.find((g) => g.id === 'g-001')!;
    const names = new Map(stack.axisSim.state().users.map((u) => [u.id, u.userName]));
    expect(res.body.data).toEqual({
      group: {
        id: 'g-001',
        name: seed.name,
        description: seed.description,
        users: seed.userIds.map((id) => ({ id, userName: names.get(id) })),
      },
      missing: null,
    });
    expect(stack.calls()).toEqual({ 'axis:groups.get': 2, 'axis:total': 2 });
  });

  it('the dashboard query makes exactly three upstream calls', async () => {
    await stack.gql('{ azureStatus { state } }');
    stack.resetCounts();
    const res = await stack.gql(DASHBOARD);
    expect(res.body.errors).toBeUndefined();
    expect(stack.calls()).toEqual({
      'npm:status.get': 1,
      'npm:authCodes.get': 1,
      'npm:total': 2,
      'axis:users.list': 1,
      'axis:total': 1,
    });
  });

  it('the three dashboard calls run in parallel: all three are in flight at once', async () => {
    await stack.gql('{ azureStatus { state } }');
    stack.resetCounts();
    // Every route hangs, so calls made one after another would never get past the first.
    stack.npmSim.addFault({ route: '*', action: { type: 'hang' } });
    stack.axisSim.addFault({ route: '*', action: { type: 'hang' } });
    const pending = stack.gql(DASHBOARD);
    await expect
      .poll(() => stack.calls(), { timeout: 1000, interval: 10 })
      .toEqual({
        'npm:status.get': 1,
        'npm:authCodes.get': 1,
        'npm:total': 2,
        'axis:users.list': 1,
        'axis:total': 1,
      });
    const res = await pending;
    expect(new Set(res.body.errors?.map((e) => e.extensions?.['code']))).toEqual(new Set(['UPSTREAM_TIMEOUT']));
  });

  it('ids are URL-encoded: a path-like id never reaches another resource', async () => {
    stack.resetCounts();
    const res = await stack.gql(
      '{ user(id: "../groups/g-001") { id } g: group(id: "g-001/../../users/u-0001") { id } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ user: null, g: null });
    expect(stack.calls()).toEqual({ 'axis:users.get': 1, 'axis:groups.get': 1, 'axis:total': 2 });
  });
});

/**
 * The lookahead (src/resolvers/lookahead.ts, unit-tested in test/unit/lookahead.test.ts):
 * `user.groups` starts listing the members one level down when they need whole users, and
 * `group.users` the groups, instead of waiting for this level. One level's list hangs here,
 * so a listing that waited for it would never start; a short upstream timeout and no retry
 * end the hung request soon.
 */
describe('the lookahead starts the next level in parallel', () => {
  const HUNG = { env: { UPSTREAM_TIMEOUT_MS: '800', UPSTREAM_RETRIES: '0' } };

  it('members that need whole users are listed while their groups are still on the way, and only then', async () => {
    await withStack(HUNG, async (s) => {
      s.axisSim.addFault({ route: 'groups.list', action: { type: 'hang' } });
      const costly = s.gql('{ users(pageSize: 30) { nodes { id groups { id description users { id email } } } } }');
      await expect
        .poll(() => s.calls(), { timeout: 1000, interval: 10 })
        .toEqual({ 'axis:users.list': 2, 'axis:groups.list': 1, 'axis:total': 3 });
      expect(codes(await costly)).toContain('UPSTREAM_TIMEOUT');

      // Members answered by their references: no member listing at all.
      s.resetCounts();
      const cheap = await s.gql(
        '{ users(pageSize: 30) { nodes { id groups { id description users { id userName } } } } }',
      );
      expect(codes(cheap)).toContain('UPSTREAM_TIMEOUT');
      expect(s.calls()).toEqual({ 'axis:users.list': 1, 'axis:groups.list': 1, 'axis:total': 2 });
    });
  });

  it('groups that need whole groups are listed while the members are still on the way', async () => {
    await withStack(HUNG, async (s) => {
      s.axisSim.addFault({ route: 'users.list', action: { type: 'hang' } });
      const pending = s.gql('{ groups(pageSize: 3) { nodes { id users { id email groups { id description } } } } }');
      await expect
        .poll(() => s.calls(), { timeout: 1000, interval: 10 })
        .toEqual({ 'axis:groups.list': 2, 'axis:users.list': 1, 'axis:total': 3 });
      expect(codes(await pending)).toContain('UPSTREAM_TIMEOUT');
    });
  });
});
