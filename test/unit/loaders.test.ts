import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { createLoaders } from '../../src/loaders.js';
import type { AxisClient } from '../../src/upstreams/axis/client.js';
import type { AxisGroup, AxisUser } from '../../src/upstreams/axis/types.js';
import type { NpmClient } from '../../src/upstreams/npm/client.js';
import type { AzureAccount } from '../../src/upstreams/npm/types.js';

const user = (id: string): AxisUser => ({
  id,
  userName: `user-${id}`,
  email: `${id}@example.com`,
  firstName: 'F',
  lastName: 'L',
  enabled: true,
  expiration: null,
  hasSshPrivateKey: false,
  groups: [],
});

/** Hand-written stand-ins for the two clients that record every call and answer by id. */
function fakeClients() {
  const calls: string[] = [];
  const accounts: AzureAccount[] = [
    { accId: 'a', tenantId: 't', subscriptionId: 's', appId: 'p' },
    { accId: 'b', tenantId: 't', subscriptionId: 's', appId: 'p' },
  ];
  const npm = {
    getStatus: async () => {
      calls.push('status');
      return { enabled: true, state: 'SYNC_NA', errorId: 0, errorText: 'OK', lastSyncAt: null, lastSuccessAt: null };
    },
    listAccounts: async () => {
      calls.push('accounts');
      return accounts;
    },
  } as unknown as NpmClient;
  const axis = {
    getUser: async (id: string) => {
      calls.push(`user:${id}`);
      await new Promise((r) => setTimeout(r, (id.charCodeAt(0) % 3) * 5)); // finish out of order
      if (id === 'missing') throw new UpstreamError('http', 'axis', { status: 404, errorId: 'NotFound' });
      if (id === 'broken') throw new UpstreamError('http', 'axis', { status: 500 });
      return user(id);
    },
    getGroup: async (id: string): Promise<AxisGroup> => {
      calls.push(`group:${id}`);
      return { id, name: id, description: null, users: [] };
    },
  } as unknown as AxisClient;
  return { npm, axis, calls };
}

describe('createLoaders', () => {
  it('answers every azureAccount lookup and the list from one call', async () => {
    const { npm, axis, calls } = fakeClients();
    const loaders = createLoaders({ npm, axis }, {});
    const [a, missing, b, list] = await Promise.all([
      loaders.azureAccountById.load('a'),
      loaders.azureAccountById.load('zzz'),
      loaders.azureAccountById.load('b'),
      loaders.azureAccounts(),
    ]);
    expect([a?.accId, missing, b?.accId, list.length]).toEqual(['a', null, 'b', 2]);
    expect(calls).toEqual(['accounts']);
  });

  it('returns users in key order, null for a 404, the error for that key only, one call per distinct id', async () => {
    const { npm, axis, calls } = fakeClients();
    const loaders = createLoaders({ npm, axis }, {});
    const results = await loaders.userById.loadMany(['c', 'a', 'missing', 'broken', 'b', 'a']);
    expect(results.map((r) => (r instanceof Error ? `error:${(r as UpstreamError).status}` : (r?.id ?? null)))).toEqual(
      ['c', 'a', null, 'error:500', 'b', 'a'],
    );
    expect(calls.filter((c) => c.startsWith('user:')).sort()).toEqual([
      'user:a',
      'user:b',
      'user:broken',
      'user:c',
      'user:missing',
    ]);
  });

  it('never fetches a primed user, and forgets everything after a write', async () => {
    const { npm, axis, calls } = fakeClients();
    const loaders = createLoaders({ npm, axis }, {});
    loaders.primeUsers([user('p')]);
    expect((await loaders.userById.load('p'))?.id).toBe('p');
    expect(calls).toEqual([]);
    loaders.forgetAxis();
    await loaders.userById.load('p');
    expect(calls).toEqual(['user:p']);
  });

  it('is per request: two sets of loaders share nothing', async () => {
    const { npm, axis, calls } = fakeClients();
    await createLoaders({ npm, axis }, {}).cloudStatus();
    await createLoaders({ npm, axis }, {}).cloudStatus();
    expect(calls).toEqual(['status', 'status']);
  });
});
