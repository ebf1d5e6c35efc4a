import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { createAxisSource, createLoaders, createNpmSource } from '../../src/loaders.js';
import { ENTITIES_PER_TURN, RequestBudget } from '../../src/request-budget.js';
import type { AxisClient } from '../../src/upstreams/axis/client.js';
import type { AxisGroup, AxisPage, AxisUser, AxisUserWrite } from '../../src/upstreams/axis/types.js';
import { axisUser } from '../helpers/axis-fixtures.js';
import type { NpmClient } from '../../src/upstreams/npm/client.js';
import type { AzureAccount } from '../../src/upstreams/npm/types.js';

const user = axisUser;

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
    syncNow: async () => {
      calls.push('sync');
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
    listUsers: async (page: { pageNumber: number; pageSize: number }): Promise<AxisPage<AxisUser>> => {
      calls.push(`users:${page.pageNumber}`);
      const data = ['a', 'b'].map(user);
      return { data, pageNumber: page.pageNumber, pageSize: page.pageSize, totalPages: 1, totalRecords: 2 };
    },
    updateUser: async (id: string, write: AxisUserWrite): Promise<AxisUser> => {
      calls.push(`update:${id}`);
      if (id === 'broken') throw new UpstreamError('http', 'axis', { status: 500 });
      return { ...user(id), userName: write.userName };
    },
    deleteUser: async (id: string) => {
      calls.push(`delete:${id}`);
    },
  } as unknown as AxisClient;
  return { npm, axis, calls };
}

describe('createLoaders', () => {
  it('answers every azureAccount lookup and the list from one call', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders } = createLoaders({ npm, axis }, {});
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
    const { loaders } = createLoaders({ npm, axis }, {});
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

  it('primes every user of a page it reads, so none of them is fetched again', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders } = createLoaders({ npm, axis }, {});
    const page = await loaders.userPage({ pageNumber: 1, pageSize: 2 });
    expect(loaders.peekUser('a')).toBe(page.data[0]);
    const [a, b] = await loaders.userById.loadMany(['a', 'b']);
    expect([a, b]).toEqual(page.data);
    expect(calls).toEqual(['users:1']);
  });

  it('answers a load with the newest copy it holds: a page read after a GET replaces the GET', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders } = createLoaders({ npm, axis }, {});
    const fetched = await loaders.userById.load('a');
    const page = await loaders.userPage({ pageNumber: 1, pageSize: 2 });
    const again = await loaders.userById.load('a');
    expect(again).toBe(page.data[0]);
    expect(again).not.toBe(fetched);
    expect(calls).toEqual(['user:a', 'users:1']);
  });

  it('after a write holds only the user it returned, and after a delete nothing', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders, hooks } = createLoaders({ npm, axis }, {});
    const source = createAxisSource(axis, hooks);
    await loaders.userById.load('a');
    const written = await source.updateUser('p', { ...user('p'), userName: 'renamed', groupIds: [] }, {});
    expect(await loaders.userById.load('p')).toBe(written);
    await loaders.userById.load('a');
    expect(calls).toEqual(['user:a', 'update:p', 'user:a']);
    calls.length = 0;
    await source.deleteUser('q', {});
    expect(loaders.peekUser('p')).toBeUndefined();
    expect((await loaders.userById.load('p'))?.userName).toBe('user-p');
    expect(calls).toEqual(['delete:q', 'user:p']);
  });

  it('leaves the loaders as they were when a write fails', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders, hooks } = createLoaders({ npm, axis }, {});
    await loaders.userById.load('a');
    await expect(
      createAxisSource(axis, hooks).updateUser('broken', { ...user('broken'), groupIds: [] }, {}),
    ).rejects.toThrow(UpstreamError);
    await loaders.userById.load('a');
    expect(calls).toEqual(['user:a', 'update:broken']);
  });

  it('reads NPM again after an NPM write', async () => {
    const { npm, axis, calls } = fakeClients();
    const { loaders, hooks } = createLoaders({ npm, axis }, {});
    await loaders.cloudStatus();
    await loaders.cloudStatus();
    await createNpmSource(npm, hooks).syncNow({});
    await loaders.cloudStatus();
    expect(calls).toEqual(['status', 'sync', 'status']);
  });

  it('is per request: two sets of loaders share nothing', async () => {
    const { npm, axis, calls } = fakeClients();
    await createLoaders({ npm, axis }, {}).loaders.cloudStatus();
    await createLoaders({ npm, axis }, {}).loaders.cloudStatus();
    expect(calls).toEqual(['status', 'status']);
  });
});

/** A tenant of `total` users behind the list route (1000 per page) and the single GET. */
function bigTenant(total: number) {
  const calls: string[] = [];
  const all = Array.from({ length: total }, (_, i) => user(`u${i}`));
  const axis = {
    getUser: async (id: string) => {
      calls.push(`user:${id}`);
      return user(id);
    },
    listUsers: async (page: { pageNumber: number; pageSize: number }): Promise<AxisPage<AxisUser>> => {
      calls.push(`users:${page.pageNumber}`);
      const data = all.slice((page.pageNumber - 1) * page.pageSize, page.pageNumber * page.pageSize);
      return {
        data,
        pageNumber: page.pageNumber,
        pageSize: page.pageSize,
        totalPages: Math.ceil(total / page.pageSize),
        totalRecords: total,
      };
    },
  } as unknown as AxisClient;
  return { axis, npm: fakeClients().npm, calls, all };
}

describe('member lookups on a tenant larger than one page', () => {
  it('answers 2000 missing users of a 3000-user tenant from its 3 list pages, not 2000 GETs', async () => {
    const { npm, axis, calls, all } = bigTenant(3000);
    const { loaders } = createLoaders({ npm, axis }, {});
    const ids = all.filter((_, i) => i % 3 !== 0).map((u) => u.id);
    const found = await loaders.userById.loadMany(ids);
    expect(found.map((u) => (u instanceof Error ? 'error' : u?.id))).toEqual(ids);
    expect(calls.sort()).toEqual(['users:1', 'users:2', 'users:3']);
  });

  it('uses GETs when they are fewer than the pages: a few ids, or a tenant of many pages', async () => {
    const small = bigTenant(3000);
    const few = createLoaders({ npm: small.npm, axis: small.axis }, {}).loaders;
    await few.userPage({ pageNumber: 3, pageSize: 1000 }); // learns totalRecords
    small.calls.length = 0;
    await few.userById.loadMany(['x1', 'x2', 'x3', 'x4', 'x5']);
    expect(small.calls.sort()).toEqual(['user:x1', 'user:x2', 'user:x3', 'user:x4', 'user:x5']);

    const huge = bigTenant(20_000);
    const many = createLoaders({ npm: huge.npm, axis: huge.axis }, {}).loaders;
    // The first page tells 20 pages; 10 ids missing from it cost 10 GETs, not 19 pages.
    const ids = Array.from({ length: 10 }, (_, i) => `u${5000 + i}`);
    await many.userById.loadMany(ids);
    expect(huge.calls.sort()).toEqual(['users:1', ...ids.map((id) => `user:${id}`)].sort());
  });

  it('answers an id missing from a multi-page listing with a GET, since pages are not one snapshot', async () => {
    const { npm, axis, calls, all } = bigTenant(2500);
    const { loaders } = createLoaders({ npm, axis }, {});
    const ids = [...all.slice(0, 20).map((u) => u.id), 'gone-between-pages'];
    await loaders.userById.loadMany(ids);
    expect(calls.sort()).toEqual(['user:gone-between-pages', 'users:1']);
    calls.length = 0;
    const later = [...all.slice(1500, 1520).map((u) => u.id), 'new-one'];
    await loaders.userById.loadMany(later);
    expect(calls.sort()).toEqual(['user:new-one', 'users:2', 'users:3']);
  });

  it('hands a batch answered from the listing on in slices of the event loop, not all at once', async () => {
    const { npm, axis, all } = bigTenant(3000);
    const budget = new RequestBudget({ maxUpstreamCalls: 10, maxEntities: 100_000, maxConcurrentCalls: 4 });
    const { loaders } = createLoaders({ npm, axis }, { budget });
    const ids = all.map((u) => u.id);
    const arrived: string[] = [];
    const loads = ids.map((id) => loaders.userById.load(id).then((u) => arrived.push(u!.id)));
    // Turn by turn: once the pages are in, no turn hands on more than one slice.
    const perTurn: number[] = [];
    while (arrived.length < ids.length && perTurn.length < 100) {
      const before = arrived.length;
      await new Promise<void>((resolve) => setImmediate(resolve));
      perTurn.push(arrived.length - before);
    }
    await Promise.all(loads);
    expect(arrived).toEqual(ids);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(ENTITIES_PER_TURN);
    expect(perTurn.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3000 / ENTITIES_PER_TURN);
  });
});
