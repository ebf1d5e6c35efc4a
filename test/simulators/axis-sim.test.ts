import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAxisSimulator } from '../../simulators/axis-sim.js';
import type { AxisSimulator } from '../../simulators/axis-sim.js';
import { http } from './http.js';

const RW = 'demo-axis-rw-token';
const RO = 'demo-axis-ro-token';
const P = '/api/v1';

interface UserJson {
  id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled: boolean;
  expiration: string | null;
  groups: { id: string; value: string }[];
  hasSshPrivateKey: boolean;
}
interface GroupJson {
  id: string;
  name: string;
  description: string | null;
  users: { id: string; value: string }[];
}
interface Page<T> {
  pageNumber: number;
  pageSize: number;
  firstPage: string;
  lastPage: string;
  totalPages: number;
  totalRecords: number;
  nextPage: string | null;
  previousPage: string | null;
  data: T[];
}

const newUser = {
  userName: 'JohnDoe',
  email: 'john.doe@example.com',
  firstName: 'John',
  lastName: 'Doe',
};

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('Axis simulator', () => {
  const sim: AxisSimulator = createAxisSimulator();
  let base = '';

  beforeAll(async () => {
    base = await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
  });
  beforeEach(() => {
    sim.reset();
  });

  describe('authentication', () => {
    it('answers 401 Unauthorized without a token', async () => {
      const res = await http(base, 'GET', `${P}/users`);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.json).toEqual({ status: 'Unauthorized', details: expect.any(String) });
    });

    it('answers 401 Unauthorized for an unknown token', async () => {
      const res = await http(base, 'GET', `${P}/users`, { token: 'made-up' });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ status: 'Unauthorized' });
    });

    it('lets a read-only token read', async () => {
      expect((await http(base, 'GET', `${P}/users/u-0001`, { token: RO })).status).toBe(200);
    });

    it.each([
      ['POST', `${P}/users`],
      ['PUT', `${P}/users/u-0001`],
      ['DELETE', `${P}/users/u-0001`],
      ['POST', `${P}/groups`],
      ['PUT', `${P}/groups/g-001`],
      ['DELETE', `${P}/groups/g-001`],
      ['POST', `${P}/commit`],
    ])('refuses %s %s with a read-only token (401, writing permissions)', async (method, path) => {
      const res = await http(base, method, path, { token: RO, json: newUser });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({
        status: 'Unauthorized',
        details: 'Unauthorized access. Make sure the API token includes writing permissions.',
      });
      expect(sim.state().pendingChanges).toBe(0);
      expect(sim.state().users).toHaveLength(120);
    });

    it('answers 403 Forbidden for a read-only write when configured like newer versions', async () => {
      const other = createAxisSimulator({ readOnlyWriteStatus: 403, seedUsers: 3, seedGroups: 2 });
      const url = await other.start();
      try {
        const res = await http(url, 'POST', `${P}/commit`, { token: RO });
        expect(res.status).toBe(403);
        expect(res.json).toMatchObject({
          status: 'Forbidden',
          details: expect.stringContaining('writing permissions'),
        });
      } finally {
        await other.stop();
      }
    });

    it('expireTokens() makes every token answer 401 mentioning expiry until reset()', async () => {
      sim.expireTokens();
      for (const token of [RW, RO]) {
        const res = await http(base, 'GET', `${P}/users/u-0001`, { token });
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({ status: 'Unauthorized', details: expect.stringMatching(/expired/i) });
      }
      sim.reset();
      expect((await http(base, 'GET', `${P}/users/u-0001`, { token: RW })).status).toBe(200);
    });

    it('accepts custom tokens and the bearer scheme in any case', async () => {
      const other = createAxisSimulator({ tokens: { mine: 'rw' }, seedUsers: 1, seedGroups: 1 });
      const url = await other.start();
      try {
        expect((await http(url, 'GET', `${P}/users`, { headers: { authorization: 'BEARER mine' } })).status).toBe(200);
        expect((await http(url, 'GET', `${P}/users`, { token: RW })).status).toBe(401);
      } finally {
        await other.stop();
      }
    });
  });

  describe('GET /users (paged list)', () => {
    it('answers the first 100 of 120 users with an envelope of absolute page URLs', async () => {
      const res = await http(base, 'GET', `${P}/users`, { token: RW });
      expect(res.status).toBe(200);
      const page = res.json as Page<UserJson>;
      expect(page).toMatchObject({
        pageNumber: 1,
        pageSize: 100,
        totalPages: 2,
        totalRecords: 120,
        firstPage: `${base}${P}/users?pageNumber=1&pageSize=100`,
        lastPage: `${base}${P}/users?pageNumber=2&pageSize=100`,
        nextPage: `${base}${P}/users?pageNumber=2&pageSize=100`,
        previousPage: null,
      });
      expect(page.data).toHaveLength(100);
      expect(page.data[0]?.id).toBe('u-0001');
      const ids = page.data.map((u) => u.id);
      expect(ids).toEqual([...ids].sort());
    });

    it('answers the last page with previousPage and no nextPage', async () => {
      const page = (await http(base, 'GET', `${P}/users?pageNumber=2&pageSize=100`, { token: RW }))
        .json as Page<UserJson>;
      expect(page.data).toHaveLength(20);
      expect(page.data[0]?.id).toBe('u-0101');
      expect(page.nextPage).toBeNull();
      expect(page.previousPage).toBe(`${base}${P}/users?pageNumber=1&pageSize=100`);
    });

    it('reads the query names case-insensitively', async () => {
      const page = (await http(base, 'GET', `${P}/users?pagesize=7&PAGENUMBER=3`, { token: RW }))
        .json as Page<UserJson>;
      expect(page).toMatchObject({ pageNumber: 3, pageSize: 7, totalPages: 18 });
      expect(page.data.map((u) => u.id)).toEqual([
        'u-0015',
        'u-0016',
        'u-0017',
        'u-0018',
        'u-0019',
        'u-0020',
        'u-0021',
      ]);
    });

    it('answers an empty page past the end', async () => {
      const page = (await http(base, 'GET', `${P}/users?pageNumber=9&pageSize=100`, { token: RW }))
        .json as Page<UserJson>;
      expect(page.data).toEqual([]);
      expect(page.nextPage).toBeNull();
      expect(page.previousPage).toBeNull();
    });

    it.each([
      'pageSize=0',
      'pageSize=1001',
      'pageSize=abc',
      'pageNumber=0',
      'pageNumber=-1',
      'pageNumber=1.5',
      'pageNumber=99999999999',
    ])('answers 400 BadRequest for %s', async (query) => {
      const res = await http(base, 'GET', `${P}/users?${query}`, { token: RW });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ status: 'BadRequest', details: expect.any(String) });
    });

    it('accepts pageSize 1000', async () => {
      const page = (await http(base, 'GET', `${P}/users?pageSize=1000`, { token: RW })).json as Page<UserJson>;
      expect(page.data).toHaveLength(120);
      expect(page.totalPages).toBe(1);
    });

    it('reports one (empty) page when there are no records (sim choice)', async () => {
      const empty = createAxisSimulator({ seedUsers: 0, seedGroups: 0 });
      const url = await empty.start();
      try {
        const page = (await http(url, 'GET', `${P}/groups`, { token: RW })).json as Page<GroupJson>;
        expect(page).toMatchObject({ totalRecords: 0, totalPages: 1, nextPage: null, previousPage: null, data: [] });
      } finally {
        await empty.stop();
      }
    });

    it('has realistic seed data: every user in 1-3 groups, some disabled, some expiring, some with keys', async () => {
      const users = ((await http(base, 'GET', `${P}/users?pageSize=1000`, { token: RW })).json as Page<UserJson>).data;
      for (const u of users) {
        expect(u.groups.length).toBeGreaterThanOrEqual(1);
        expect(u.groups.length).toBeLessThanOrEqual(3);
        expect(u.email).toBe(`${u.userName}@example.com`);
      }
      expect(users.some((u) => !u.enabled)).toBe(true);
      expect(users.some((u) => u.expiration !== null)).toBe(true);
      expect(users.some((u) => u.hasSshPrivateKey)).toBe(true);
      expect(new Set(users.map((u) => u.userName.toLowerCase())).size).toBe(users.length);
    });
  });

  describe('path matching', () => {
    it('matches the prefix and resource names case-insensitively, with a trailing slash', async () => {
      const other = createAxisSimulator({ prefix: '/api/v1.0', seedUsers: 2, seedGroups: 1 });
      const url = await other.start();
      try {
        expect((await http(url, 'GET', '/api/v1.0/Users', { token: RW })).status).toBe(200);
        expect((await http(url, 'GET', '/API/V1.0/users/', { token: RW })).status).toBe(200);
        expect((await http(url, 'GET', '/api/v1.0/Groups/g-001', { token: RW })).status).toBe(200);
        expect((await http(url, 'POST', '/api/v1.0/Commit', { token: RW })).status).toBe(204);
        const wrongPrefix = await http(url, 'GET', '/api/v1/users', { token: RW });
        expect(wrongPrefix.status).toBe(404);
        expect(wrongPrefix.json).toMatchObject({ status: 'NotFound' });
        expect(other.counts()).toMatchObject({ 'users.list': 2, 'groups.get': 1, commit: 1, total: 4 });
      } finally {
        await other.stop();
      }
    });

    it('answers unknown paths with 404 NotFound and wrong methods with 405 MethodNotAllowed', async () => {
      const unknown = await http(base, 'GET', `${P}/connectors`, { token: RW });
      expect(unknown.status).toBe(404);
      expect(unknown.json).toEqual({ status: 'NotFound', details: expect.any(String) });
      const nested = await http(base, 'GET', `${P}/users/u-0001/groups`, { token: RW });
      expect(nested.status).toBe(404);
      const patch = await http(base, 'PATCH', `${P}/users/u-0001`, { token: RW, json: {} });
      expect(patch.status).toBe(405);
      expect(patch.json).toEqual({ status: 'MethodNotAllowed', details: expect.any(String) });
      expect((await http(base, 'GET', `${P}/commit`, { token: RW })).status).toBe(405);
      expect(sim.counts()['total']).toBe(0);
    });
  });

  describe('GET /users/{id}', () => {
    it('answers the user with group refs and hasSshPrivateKey, never the key', async () => {
      const res = await http(base, 'GET', `${P}/users/u-0003`, { token: RW });
      expect(res.status).toBe(200);
      const user = res.json as UserJson;
      expect(Object.keys(user).sort()).toEqual(
        [
          'email',
          'enabled',
          'expiration',
          'firstName',
          'groups',
          'hasSshPrivateKey',
          'id',
          'lastName',
          'userName',
        ].sort(),
      );
      expect(user.hasSshPrivateKey).toBe(true);
      expect(res.text).not.toContain('PRIVATE KEY');
      const groupNames = new Map(sim.state().groups.map((g) => [g.id, g.name]));
      for (const ref of user.groups) expect(ref.value).toBe(groupNames.get(ref.id));
    });

    it('answers 404 NotFound "User not found" for an unknown id', async () => {
      const res = await http(base, 'GET', `${P}/users/u-9999`, { token: RW });
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ status: 'NotFound', details: 'User not found' });
    });
  });

  describe('POST /users', () => {
    it('answers 200 (not 201) with the created user and stages one change', async () => {
      const res = await http(base, 'POST', `${P}/users`, {
        token: RW,
        json: { ...newUser, expiration: '2031-08-05T08:59:00.772Z', groups: [{ id: 'g-002' }], sshPrivateKey: 'KEY-1' },
      });
      expect(res.status).toBe(200);
      const user = res.json as UserJson;
      expect(user).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        ...newUser,
        enabled: true,
        expiration: '2031-08-05T08:59:00.772Z',
        groups: [{ id: 'g-002', value: 'Sales' }],
        hasSshPrivateKey: true,
      });
      const group = (await http(base, 'GET', `${P}/groups/g-002`, { token: RW })).json as GroupJson;
      expect(group.users).toContainEqual({ id: user.id, value: 'JohnDoe' });
      const state = sim.state();
      expect(state.pendingChanges).toBe(1);
      expect(state.users.find((u) => u.id === user.id)?.sshPrivateKeySha256).toBe(sha256('KEY-1'));
      expect((await http(base, 'GET', `${P}/users/${user.id}`, { token: RW })).json).toEqual(user);
    });

    it.each([
      ['empty', ''],
      ['null', null],
    ])('treats an %s expiration as never', async (_label, expiration) => {
      const res = await http(base, 'POST', `${P}/users`, { token: RW, json: { ...newUser, expiration } });
      expect(res.status).toBe(200);
      expect((res.json as UserJson).expiration).toBeNull();
    });

    it('binds property names case-insensitively like ASP.NET (UserName, SSHPrivateKey)', async () => {
      const res = await http(base, 'POST', `${P}/users`, {
        token: RW,
        json: {
          UserName: 'pascal',
          Email: 'p@example.com',
          FirstName: 'P',
          LastName: 'Ascal',
          Enabled: false,
          Groups: [{ ID: 'g-001' }],
          SSHPrivateKey: 'k',
        },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        userName: 'pascal',
        enabled: false,
        groups: [{ id: 'g-001', value: 'Engineering' }],
        hasSshPrivateKey: true,
      });
    });

    it.each([
      ['a missing lastName', { ...newUser, lastName: undefined }],
      ['a blank firstName', { ...newUser, firstName: ' ' }],
      ['an email without @', { ...newUser, email: 'john.example.com' }],
      ['a non-boolean enabled', { ...newUser, enabled: 'yes' }],
      ['an invalid expiration', { ...newUser, expiration: 'next tuesday' }],
      ['an impossible date', { ...newUser, expiration: '2030-02-30T00:00:00Z' }],
      ['an unknown group id', { ...newUser, groups: [{ id: 'g-404' }] }],
      ['an array body', [newUser]],
    ])('answers 400 BadRequest for %s and stages nothing', async (_label, body) => {
      const res = await http(base, 'POST', `${P}/users`, { token: RW, json: body });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ status: 'BadRequest', details: expect.any(String) });
      expect(sim.state().pendingChanges).toBe(0);
      expect(sim.state().users).toHaveLength(120);
    });

    it('answers 400 BadRequest for a body that is not JSON', async () => {
      const res = await http(base, 'POST', `${P}/users`, {
        token: RW,
        body: '{"userName":',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ status: 'BadRequest' });
    });

    it('answers 409 Conflict for a userName that exists in another case', async () => {
      const existing = sim.state().users[0]?.userName ?? '';
      const res = await http(base, 'POST', `${P}/users`, {
        token: RW,
        json: { ...newUser, userName: existing.toUpperCase() },
      });
      expect(res.status).toBe(409);
      expect(res.json).toEqual({ status: 'Conflict', details: expect.any(String) });
      expect(sim.state().pendingChanges).toBe(0);
    });
  });

  describe('PUT /users/{id}', () => {
    const replacement = { ...newUser, userName: 'renamed.user', enabled: false, groups: [{ id: 'g-005' }] };

    it('replaces every field and the memberships, answering 200 with the user', async () => {
      const before = sim.state().users.find((u) => u.id === 'u-0001');
      const res = await http(base, 'PUT', `${P}/users/u-0001`, { token: RW, json: replacement });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        id: 'u-0001',
        userName: 'renamed.user',
        enabled: false,
        expiration: null,
        groups: [{ id: 'g-005', value: 'Contractors' }],
      });
      for (const gid of before?.groupIds ?? []) {
        if (gid === 'g-005') continue;
        const group = (await http(base, 'GET', `${P}/groups/${gid}`, { token: RW })).json as GroupJson;
        expect(group.users.map((u) => u.id)).not.toContain('u-0001');
      }
      const contractors = (await http(base, 'GET', `${P}/groups/g-005`, { token: RW })).json as GroupJson;
      expect(contractors.users).toContainEqual({ id: 'u-0001', value: 'renamed.user' });
      expect(sim.state().pendingChanges).toBe(1);
    });

    it('drops every membership when groups is absent (full replace)', async () => {
      const res = await http(base, 'PUT', `${P}/users/u-0001`, { token: RW, json: newUser });
      expect((res.json as UserJson).groups).toEqual([]);
      expect(sim.state().groups.some((g) => g.userIds.includes('u-0001'))).toBe(false);
    });

    it('keeps the write-only key when sshPrivateKey is absent, clears it with "", replaces it with a string', async () => {
      const keyOf = (): string | null | undefined =>
        sim.state().users.find((u) => u.id === 'u-0003')?.sshPrivateKeySha256;
      const original = keyOf();
      expect(original).not.toBeNull();

      const kept = await http(base, 'PUT', `${P}/users/u-0003`, { token: RW, json: newUser });
      expect((kept.json as UserJson).hasSshPrivateKey).toBe(true);
      expect(keyOf()).toBe(original);

      await http(base, 'PUT', `${P}/users/u-0003`, { token: RW, json: { ...newUser, sshPrivateKey: 'NEW-KEY' } });
      expect(keyOf()).toBe(sha256('NEW-KEY'));

      const cleared = await http(base, 'PUT', `${P}/users/u-0003`, {
        token: RW,
        json: { ...newUser, sshPrivateKey: '' },
      });
      expect((cleared.json as UserJson).hasSshPrivateKey).toBe(false);
      expect(keyOf()).toBeNull();
      expect(sim.state().pendingChanges).toBe(3);
    });

    it('lets a user keep its own userName in another case but not take another user’s', async () => {
      const [first, second] = sim.state().users;
      const own = await http(base, 'PUT', `${P}/users/${first?.id}`, {
        token: RW,
        json: { ...newUser, userName: first?.userName.toUpperCase() },
      });
      expect(own.status).toBe(200);
      const taken = await http(base, 'PUT', `${P}/users/${first?.id}`, {
        token: RW,
        json: { ...newUser, userName: second?.userName },
      });
      expect(taken.status).toBe(409);
      expect(taken.json).toMatchObject({ status: 'Conflict' });
    });

    it('answers 404 for an unknown user and 400 for a missing required field', async () => {
      const missing = await http(base, 'PUT', `${P}/users/u-9999`, { token: RW, json: newUser });
      expect(missing.status).toBe(404);
      expect(missing.json).toEqual({ status: 'NotFound', details: 'User not found' });
      const invalid = await http(base, 'PUT', `${P}/users/u-0001`, { token: RW, json: { userName: 'x' } });
      expect(invalid.status).toBe(400);
      expect(sim.state().pendingChanges).toBe(0);
    });
  });

  describe('DELETE /users/{id}', () => {
    it('answers 204, removes the user and its memberships', async () => {
      const groupIds = sim.state().users.find((u) => u.id === 'u-0002')?.groupIds ?? [];
      expect(groupIds.length).toBeGreaterThan(0);
      const res = await http(base, 'DELETE', `${P}/users/u-0002`, { token: RW });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect((await http(base, 'GET', `${P}/users/u-0002`, { token: RW })).status).toBe(404);
      for (const gid of groupIds) {
        const group = (await http(base, 'GET', `${P}/groups/${gid}`, { token: RW })).json as GroupJson;
        expect(group.users.map((u) => u.id)).not.toContain('u-0002');
      }
      const page = (await http(base, 'GET', `${P}/users?pageSize=1000`, { token: RW })).json as Page<UserJson>;
      expect(page.totalRecords).toBe(119);
      expect(sim.state().pendingChanges).toBe(1);
    });

    it('answers 404 for an unknown user', async () => {
      const res = await http(base, 'DELETE', `${P}/users/nope`, { token: RW });
      expect(res.status).toBe(404);
      expect(sim.state().pendingChanges).toBe(0);
    });
  });

  describe('groups', () => {
    it('lists groups in id order with members as {id, value: userName}', async () => {
      const page = (await http(base, 'GET', `${P}/groups`, { token: RW })).json as Page<GroupJson>;
      expect(page).toMatchObject({ totalRecords: 12, totalPages: 1, pageSize: 100 });
      expect(page.data.map((g) => g.name).slice(0, 5)).toEqual([
        'Engineering',
        'Sales',
        'Support',
        'Finance',
        'Contractors',
      ]);
      const userNames = new Map(sim.state().users.map((u) => [u.id, u.userName]));
      for (const group of page.data) {
        for (const ref of group.users) expect(ref.value).toBe(userNames.get(ref.id));
      }
    });

    it('creates a group with members (200) and shows it on the users', async () => {
      const res = await http(base, 'POST', `${P}/groups`, {
        token: RW,
        json: {
          name: 'sales department',
          description: 'A group for the sales representatives',
          users: [{ id: 'u-0001' }, { id: 'u-0002' }],
        },
      });
      expect(res.status).toBe(200);
      const group = res.json as GroupJson;
      expect(group).toMatchObject({ name: 'sales department', description: 'A group for the sales representatives' });
      expect(group.users.map((u) => u.id)).toEqual(['u-0001', 'u-0002']);
      const user = (await http(base, 'GET', `${P}/users/u-0001`, { token: RW })).json as UserJson;
      expect(user.groups).toContainEqual({ id: group.id, value: 'sales department' });
      expect(sim.state().pendingChanges).toBe(1);
    });

    it('defaults a missing description to null', async () => {
      const res = await http(base, 'POST', `${P}/groups`, { token: RW, json: { name: 'No Description' } });
      expect(res.json).toMatchObject({ description: null, users: [] });
    });

    it('answers 409 Conflict for a duplicate name in another case, 400 for an unknown member or a missing name', async () => {
      const dup = await http(base, 'POST', `${P}/groups`, { token: RW, json: { name: 'ENGINEERING' } });
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({ status: 'Conflict' });
      const unknown = await http(base, 'POST', `${P}/groups`, {
        token: RW,
        json: { name: 'X', users: [{ id: 'u-9999' }] },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.json).toMatchObject({ status: 'BadRequest' });
      const noName = await http(base, 'POST', `${P}/groups`, { token: RW, json: { description: 'x' } });
      expect(noName.status).toBe(400);
      expect(sim.state().pendingChanges).toBe(0);
    });

    it('PUT without users drops every member (full replace, the reason the gateway must merge)', async () => {
      const before = (await http(base, 'GET', `${P}/groups/g-001`, { token: RW })).json as GroupJson;
      expect(before.users.length).toBeGreaterThan(0);
      const res = await http(base, 'PUT', `${P}/groups/g-001`, { token: RW, json: { name: 'Engineering' } });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ name: 'Engineering', description: null, users: [] });
      const member = (await http(base, 'GET', `${P}/users/${before.users[0]?.id}`, { token: RW })).json as UserJson;
      expect(member.groups.map((g) => g.id)).not.toContain('g-001');
    });

    it('a rename shows in every member’s group refs', async () => {
      const before = (await http(base, 'GET', `${P}/groups/g-002`, { token: RW })).json as GroupJson;
      await http(base, 'PUT', `${P}/groups/g-002`, {
        token: RW,
        json: { name: 'Revenue', users: before.users.map((u) => ({ id: u.id })) },
      });
      for (const ref of before.users) {
        const user = (await http(base, 'GET', `${P}/users/${ref.id}`, { token: RW })).json as UserJson;
        expect(user.groups).toContainEqual({ id: 'g-002', value: 'Revenue' });
      }
    });

    it('a user rename shows in every group’s member refs', async () => {
      const groupIds = sim.state().users.find((u) => u.id === 'u-0004')?.groupIds ?? [];
      await http(base, 'PUT', `${P}/users/u-0004`, {
        token: RW,
        json: { ...newUser, userName: 'fresh.name', groups: groupIds.map((id) => ({ id })) },
      });
      for (const gid of groupIds) {
        const group = (await http(base, 'GET', `${P}/groups/${gid}`, { token: RW })).json as GroupJson;
        expect(group.users).toContainEqual({ id: 'u-0004', value: 'fresh.name' });
      }
    });

    it('answers 404 "Group not found" for GET, PUT and DELETE of an unknown group', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await http(base, method, `${P}/groups/g-999`, { token: RW, json: { name: 'x' } });
        expect(res.status).toBe(404);
        expect(res.json).toEqual({ status: 'NotFound', details: 'Group not found' });
      }
    });

    it('DELETE answers 204 and removes the group from its members', async () => {
      const members = sim.state().groups.find((g) => g.id === 'g-003')?.userIds ?? [];
      const res = await http(base, 'DELETE', `${P}/groups/g-003`, { token: RW });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const user = (await http(base, 'GET', `${P}/users/${members[0]}`, { token: RW })).json as UserJson;
      expect(user.groups.map((g) => g.id)).not.toContain('g-003');
      expect((await http(base, 'GET', `${P}/groups/g-003`, { token: RW })).status).toBe(404);
    });
  });

  describe('POST /commit', () => {
    it('answers 204 with no body, clears pending changes and counts the commit', async () => {
      await http(base, 'POST', `${P}/groups`, { token: RW, json: { name: 'Staged' } });
      await http(base, 'DELETE', `${P}/users/u-0010`, { token: RW });
      expect(sim.state().pendingChanges).toBe(2);
      const res = await http(base, 'POST', `${P}/commit`, { token: RW });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      expect(sim.state()).toMatchObject({ pendingChanges: 0, commits: 1 });
      expect(sim.counts()).toMatchObject({ 'groups.create': 1, 'users.delete': 1, commit: 1, total: 3 });
    });

    it('reads reflect staged changes before the commit', async () => {
      await http(base, 'PUT', `${P}/users/u-0001`, { token: RW, json: { ...newUser, userName: 'staged.name' } });
      expect(((await http(base, 'GET', `${P}/users/u-0001`, { token: RW })).json as UserJson).userName).toBe(
        'staged.name',
      );
    });
  });

  describe('cached list pages', () => {
    /** The whole directory through the lists, checked against single reads and the state. */
    async function expectListsCurrent(): Promise<void> {
      const users = (await http(base, 'GET', `${P}/users?pageSize=1000`, { token: RW })).json as Page<UserJson>;
      const groups = (await http(base, 'GET', `${P}/groups?pageSize=1000`, { token: RW })).json as Page<GroupJson>;
      const state = sim.state();
      expect(users.data.map((u) => u.id)).toEqual(state.users.map((u) => u.id));
      expect(users.totalRecords).toBe(state.users.length);
      expect(groups.data.map((g) => g.id)).toEqual(state.groups.map((g) => g.id));
      for (const user of users.data) {
        expect((await http(base, 'GET', `${P}/users/${user.id}`, { token: RW })).json).toEqual(user);
      }
      for (const group of groups.data) {
        expect((await http(base, 'GET', `${P}/groups/${group.id}`, { token: RW })).json).toEqual(group);
      }
    }

    it('are never stale: every kind of write shows in the next list', async () => {
      await expectListsCurrent();
      const state = sim.state();
      const u2 = state.users.find((u) => u.id === 'u-0002')!;
      const keepGroups = u2.groupIds.map((id) => ({ id }));
      const keepUsers = (state.groups.find((g) => g.id === 'g-006')?.userIds ?? []).map((id) => ({ id }));
      const writes: [string, string, unknown][] = [
        // Own fields only, memberships as they were.
        ['PUT', `${P}/users/u-0002`, { ...newUser, userName: u2.userName, groups: keepGroups }],
        ['PUT', `${P}/users/u-0002`, { ...newUser, userName: 'renamed.user', groups: keepGroups }],
        ['PUT', `${P}/groups/g-006`, { name: 'Marketing', description: 'now described', users: keepUsers }],
        ['PUT', `${P}/groups/g-006`, { name: 'Renamed Group', description: null, users: keepUsers }],
        // Memberships.
        ['PUT', `${P}/users/u-0002`, { ...newUser, userName: 'renamed.user', groups: [{ id: 'g-001' }] }],
        ['PUT', `${P}/groups/g-001`, { name: 'Engineering', users: [{ id: 'u-0003' }, { id: 'u-0002' }] }],
        ['POST', `${P}/users`, { ...newUser, groups: [{ id: 'g-002' }] }],
        ['POST', `${P}/groups`, { name: 'New Group', users: [{ id: 'u-0005' }] }],
        ['DELETE', `${P}/users/u-0003`, undefined],
        ['DELETE', `${P}/groups/g-004`, undefined],
      ];
      for (const [method, path, json] of writes) {
        const res = await http(base, method, path, { token: RW, ...(json === undefined ? {} : { json }) });
        expect(res.status).toBeLessThan(300);
        await expectListsCurrent();
      }
      sim.reset();
      await expectListsCurrent();
    });

    it('echo the Host header each request sends in the page URLs', async () => {
      const a = (await http(base, 'GET', `${P}/users?pageSize=10`, { token: RW, headers: { host: 'a.example' } }))
        .json as Page<UserJson>;
      const b = (await http(base, 'GET', `${P}/users?pageSize=10`, { token: RW, headers: { host: 'b.example' } }))
        .json as Page<UserJson>;
      expect(a.nextPage).toBe(`http://a.example${P}/users?pageNumber=2&pageSize=10`);
      expect(b.nextPage).toBe(`http://b.example${P}/users?pageNumber=2&pageSize=10`);
    });
  });

  it('reset() restores the seed data and clears pending changes and commits', async () => {
    await http(base, 'DELETE', `${P}/users/u-0001`, { token: RW });
    await http(base, 'POST', `${P}/commit`, { token: RW });
    sim.reset();
    expect((await http(base, 'GET', `${P}/users/u-0001`, { token: RW })).status).toBe(200);
    expect(sim.state()).toMatchObject({ pendingChanges: 0, commits: 0 });
    expect(sim.counts()['total']).toBe(1);
  });

  it('produces the same seed on every construction', () => {
    const a = createAxisSimulator().state();
    const b = createAxisSimulator().state();
    expect(a).toEqual(b);
    expect(a.groups).toHaveLength(12);
  });
});
