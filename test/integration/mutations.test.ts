import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(async () => {
  stack.npmSim.reset();
  stack.axisSim.reset();
  await stack.gql('{ azureStatus { state } }'); // the NPM login is not what these tests count
  stack.resetCounts();
});

const STATUS = 'enabled state errorId errorText lastSyncAt lastSuccessAt';

describe('Azure mutations', () => {
  it('setAzureSyncEnabled switches sync off and on, then reads the fresh status', async () => {
    const off = await stack.gql(`mutation { setAzureSyncEnabled(enabled: false) { ${STATUS} } }`);
    expect(off.body.data?.['setAzureSyncEnabled']).toMatchObject({ enabled: false, state: 'SYNC_DISABLED' });
    expect(stack.npmSim.state().sync.enabled).toBe(false);
    expect(stack.calls()).toEqual({ 'npm:syncStatus.put': 1, 'npm:status.get': 1, 'npm:total': 2 });

    const on = await stack.gql('mutation { setAzureSyncEnabled(enabled: true) { enabled } }');
    expect(on.body.data?.['setAzureSyncEnabled']).toEqual({ enabled: true });
  });

  it('syncAzureAccounts starts a sync and returns the fresh status', async () => {
    const res = await stack.gql(`mutation { syncAzureAccounts { ${STATUS} } }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['syncAzureAccounts']).toMatchObject({ enabled: true, state: 'SYNC_INITIALIZING' });
    expect(stack.calls()).toEqual({ 'npm:sync.post': 1, 'npm:status.get': 1, 'npm:total': 2 });
    await expect
      .poll(
        async () =>
          ((await stack.gql('{ azureStatus { state } }')).body.data?.['azureStatus'] as { state: string }).state,
      )
      .toBe('SYNC_SUCCEEDED');
  });

  it('syncAzureAccounts while sync is disabled is BAD_USER_INPUT from the appliance', async () => {
    await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { enabled } }');
    const res = await stack.gql('mutation { syncAzureAccounts { state } }');
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      upstream: 'npm',
      upstreamStatus: 400,
      upstreamErrorId: 'REQUEST_INVALID_INPUT',
    });
  });

  it('upsertAzureAccounts writes the password and returns the accounts without it', async () => {
    const res = await stack.gql(
      'mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId tenantId subscriptionId appId } }',
      {
        a: [
          {
            accId: 'new-acc',
            tenantId: 'tenant-n',
            subscriptionId: 'sub-n',
            appId: 'app-n',
            appPassword: 'pw-new-acc-secret',
          },
          {
            accId: 'prod-eastus',
            tenantId: 'tenant-p',
            subscriptionId: 'sub-p',
            appId: 'app-p',
            appPassword: 'pw-prod-secret',
          },
        ],
      },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['upsertAzureAccounts']).toEqual([
      { accId: 'new-acc', tenantId: 'tenant-n', subscriptionId: 'sub-n', appId: 'app-n' },
      { accId: 'prod-eastus', tenantId: 'tenant-p', subscriptionId: 'sub-p', appId: 'app-p' },
    ]);
    const stored = stack.npmSim.state().accounts;
    expect(stored.find((a) => a.acc_id === 'new-acc')?.app_passwd).toBe('pw-new-acc-secret');
    expect(stored.find((a) => a.acc_id === 'prod-eastus')?.app_passwd).toBe('pw-prod-secret');
    expect(stack.calls()).toEqual({ 'npm:authCodes.put': 1, 'npm:authCodes.get': 1, 'npm:total': 2 });
    expect(JSON.stringify(res.body)).not.toContain('secret');
  });

  it('deleteAzureAccounts sends the ids and returns them; an unknown id is NOT_FOUND and deletes nothing', async () => {
    const res = await stack.gql('mutation { deleteAzureAccounts(accIds: ["prod-eastus", "dev-centralus"]) }');
    expect(res.body.data?.['deleteAzureAccounts']).toEqual(['prod-eastus', 'dev-centralus']);
    expect(stack.npmSim.state().accounts.map((a) => a.acc_id)).toEqual(['staging-westeurope']);

    const missing = await stack.gql('mutation { deleteAzureAccounts(accIds: ["staging-westeurope", "nope"]) }');
    expect(codes(missing)).toEqual(['NOT_FOUND']);
    expect(missing.body.errors?.[0]?.extensions).toMatchObject({
      upstream: 'npm',
      upstreamStatus: 404,
      upstreamErrorId: 'RESOURCE_NOT_FOUND',
    });
    expect(stack.npmSim.state().accounts.map((a) => a.acc_id)).toEqual(['staging-westeurope']);
  });
});

describe('Axis user mutations', () => {
  it('createUser creates, commits, and answers with the user and its group names', async () => {
    const res = await stack.gql(
      `mutation($input: CreateUserInput!) {
        createUser(input: $input) { id userName email firstName lastName enabled expiration hasSshPrivateKey groups { id name } }
      }`,
      {
        input: {
          userName: 'grace.hopper',
          email: 'grace@example.com',
          firstName: 'Grace',
          lastName: 'Hopper',
          expiration: '2030-01-01T00:00:00Z',
          groupIds: ['g-001', 'g-002'],
          sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-material\n-----END OPENSSH PRIVATE KEY-----',
        },
      },
    );
    expect(res.body.errors).toBeUndefined();
    const groups = stack.axisSim.state().groups;
    const user = res.body.data?.['createUser'] as Record<string, unknown>;
    expect(user).toMatchObject({
      userName: 'grace.hopper',
      email: 'grace@example.com',
      enabled: true,
      expiration: '2030-01-01T00:00:00.000Z',
      hasSshPrivateKey: true,
      groups: [
        { id: 'g-001', name: groups.find((g) => g.id === 'g-001')?.name },
        { id: 'g-002', name: groups.find((g) => g.id === 'g-002')?.name },
      ],
    });
    expect(stack.calls()).toEqual({ 'axis:users.create': 1, 'axis:commit': 1, 'axis:total': 2 });
    expect(stack.axisSim.state().pendingChanges).toBe(0);
    expect(JSON.stringify(res.body)).not.toContain('secret-key-material');
  });

  it('createUser with a taken userName is CONFLICT', async () => {
    const taken = stack.axisSim.state().users[0]!.userName;
    const res = await stack.gql(
      `mutation { createUser(input: { userName: "${taken}", email: "x@example.com", firstName: "X", lastName: "Y" }) { id } }`,
    );
    expect(codes(res)).toEqual(['CONFLICT']);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({
      upstream: 'axis',
      upstreamStatus: 409,
      upstreamErrorId: 'Conflict',
    });
    expect(stack.calls()['axis:commit']).toBeUndefined();
  });

  it('updateUser changes only the given fields and keeps memberships and the SSH key', async () => {
    const before = stack.axisSim.state().users.find((u) => u.hasSshPrivateKey && u.groupIds.length > 1)!;
    const res = await stack.gql(
      `mutation { updateUser(id: "${before.id}", input: { firstName: "Renamed" }) { id firstName lastName email groups { id } hasSshPrivateKey } }`,
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['updateUser']).toEqual({
      id: before.id,
      firstName: 'Renamed',
      lastName: before.lastName,
      email: before.email,
      groups: before.groupIds.map((id) => ({ id })),
      hasSshPrivateKey: true,
    });
    const after = stack.axisSim.state().users.find((u) => u.id === before.id)!;
    expect(after).toEqual({ ...before, firstName: 'Renamed' });
    // Two reads: one learns which entities to lock, the other is the fresh copy inside the locks.
    expect(stack.calls()).toEqual({ 'axis:users.get': 2, 'axis:users.update': 1, 'axis:commit': 1, 'axis:total': 4 });
  });

  it('updateUser with expiration: null clears it; groupIds replaces memberships', async () => {
    const before = stack.axisSim.state().users.find((u) => u.expiration !== null)!;
    const res = await stack.gql(
      `mutation { updateUser(id: "${before.id}", input: { expiration: null, groupIds: ["g-003"] }) { expiration groups { id name } } }`,
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['updateUser']).toMatchObject({ expiration: null, groups: [{ id: 'g-003' }] });
    const after = stack.axisSim.state().users.find((u) => u.id === before.id)!;
    expect(after.expiration).toBeNull();
    expect(after.groupIds).toEqual(['g-003']);
    expect(after.userName).toBe(before.userName);
  });

  it('updateUser can replace and remove the SSH key', async () => {
    const id = stack.axisSim.state().users.find((u) => !u.hasSshPrivateKey)!.id;
    const set = await stack.gql(
      `mutation { updateUser(id: "${id}", input: { sshPrivateKey: "new-key-material" }) { hasSshPrivateKey } }`,
    );
    expect(set.body.data?.['updateUser']).toEqual({ hasSshPrivateKey: true });
    const removed = await stack.gql(
      `mutation { updateUser(id: "${id}", input: { sshPrivateKey: null }) { hasSshPrivateKey } }`,
    );
    expect(removed.body.data?.['updateUser']).toEqual({ hasSshPrivateKey: false });
  });

  it('updateUser of an unknown user is NOT_FOUND and writes nothing', async () => {
    const res = await stack.gql('mutation { updateUser(id: "u-9999", input: { firstName: "X" }) { id } }');
    expect(codes(res)).toEqual(['NOT_FOUND']);
    expect(stack.calls()).toEqual({ 'axis:users.get': 1, 'axis:total': 1 });
  });

  it('deleteUser deletes, commits and returns the id; again is NOT_FOUND', async () => {
    const res = await stack.gql('mutation { deleteUser(id: "u-0005") }');
    expect(res.body.data).toEqual({ deleteUser: 'u-0005' });
    expect(stack.axisSim.state().users.some((u) => u.id === 'u-0005')).toBe(false);
    expect(stack.calls()).toEqual({ 'axis:users.delete': 1, 'axis:commit': 1, 'axis:total': 2 });
    const again = await stack.gql('mutation { deleteUser(id: "u-0005") }');
    expect(codes(again)).toEqual(['NOT_FOUND']);
  });
});

describe('Axis group mutations', () => {
  it('createGroup with members', async () => {
    const res = await stack.gql(
      'mutation { createGroup(input: { name: "Red Team", description: "Adversary emulation", userIds: ["u-0001", "u-0002"] }) { id name description users { id userName } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const names = new Map(stack.axisSim.state().users.map((u) => [u.id, u.userName]));
    expect(res.body.data?.['createGroup']).toMatchObject({
      name: 'Red Team',
      description: 'Adversary emulation',
      users: [
        { id: 'u-0001', userName: names.get('u-0001') },
        { id: 'u-0002', userName: names.get('u-0002') },
      ],
    });
    expect(stack.calls()).toEqual({ 'axis:groups.create': 1, 'axis:commit': 1, 'axis:total': 2 });
  });

  it('updateGroup of the description never drops the members', async () => {
    const before = stack.axisSim.state().groups.find((g) => g.userIds.length > 3)!;
    const res = await stack.gql(
      `mutation { updateGroup(id: "${before.id}", input: { description: "New words" }) { name description users { id } } }`,
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.['updateGroup']).toEqual({
      name: before.name,
      description: 'New words',
      users: before.userIds.map((id) => ({ id })),
    });
    expect(stack.axisSim.state().groups.find((g) => g.id === before.id)).toEqual({
      ...before,
      description: 'New words',
    });
    // Two reads: one learns which entities to lock, the other is the fresh copy inside the locks.
    expect(stack.calls()).toEqual({ 'axis:groups.get': 2, 'axis:groups.update': 1, 'axis:commit': 1, 'axis:total': 4 });
  });

  it('updateGroup with description: null clears it and userIds replaces the members', async () => {
    const res = await stack.gql(
      'mutation { updateGroup(id: "g-002", input: { description: null, userIds: ["u-0010"] }) { description users { id } } }',
    );
    expect(res.body.data?.['updateGroup']).toEqual({ description: null, users: [{ id: 'u-0010' }] });
  });

  it('a membership set from the group shows on the user in the same request', async () => {
    const res = await stack.gql(`mutation {
      updateGroup(id: "g-004", input: { userIds: ["u-0007"] }) { id }
      check: updateUser(id: "u-0007", input: {}) { groups { id } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect((res.body.data?.['check'] as { groups: Array<{ id: string }> }).groups.map((g) => g.id)).toContain('g-004');
  });

  it('deleteGroup deletes and commits', async () => {
    const res = await stack.gql('mutation { deleteGroup(id: "g-012") }');
    expect(res.body.data).toEqual({ deleteGroup: 'g-012' });
    expect(stack.axisSim.state().groups.some((g) => g.id === 'g-012')).toBe(false);
    expect(stack.calls()).toEqual({ 'axis:groups.delete': 1, 'axis:commit': 1, 'axis:total': 2 });
  });
});

describe('manual commit', () => {
  let manual: Stack;
  beforeAll(async () => {
    manual = await startStack({ env: { AXIS_AUTO_COMMIT: 'false' } });
  });
  afterAll(() => manual.close());

  it('with AXIS_AUTO_COMMIT=false writes stay pending until commitAxisChanges', async () => {
    const res = await manual.gql('mutation { updateGroup(id: "g-001", input: { description: "pending" }) { id } }');
    expect(res.body.errors).toBeUndefined();
    expect(manual.axisSim.state().pendingChanges).toBe(1);
    expect(manual.axisSim.counts()['commit'] ?? 0).toBe(0);
    const commit = await manual.gql('mutation { commitAxisChanges }');
    expect(commit.body.data).toEqual({ commitAxisChanges: true });
    expect(manual.axisSim.state()).toMatchObject({ pendingChanges: 0, commits: 1 });
  });
});
