import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The Relay additions (Node, node/nodes, cursor connections) through the real gateway and the
 * real simulators, at real tenant sizes (1000 and 3000 users). Upstream calls are counted at
 * the simulators; the NPM login is left out of every count.
 */

type Data = Record<string, unknown>;
interface Conn {
  edges: Array<{ cursor: string; node: { id: string; nodeId: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

async function data(stack: Stack, query: string, variables?: Record<string, unknown>): Promise<Data> {
  const res = await stack.gql(query, variables);
  expect(res.body.errors).toBeUndefined();
  return res.body.data!;
}

for (const seedUsers of [1000, 3000]) {
  describe(`Relay additions over ${seedUsers} users`, () => {
    let stack: Stack;
    let userIds: string[];
    beforeAll(async () => {
      stack = await startStack({ axis: { seedUsers, seedGroups: 40 } });
      await stack.gql('{ azureStatus { state } }');
      const page = (await data(stack, '{ users(pageSize: 1000) { nodes { id } } }')) as {
        users: { nodes: Array<{ id: string }> };
      };
      userIds = page.users.nodes.map((u) => u.id);
    });
    afterAll(() => stack.close());
    beforeEach(() => stack.resetCounts());

    it('every Node type has a nodeId that node(id:) resolves back to the same object; `id` is unchanged', async () => {
      const first = (await data(
        stack,
        `{ azureStatus { nodeId state } azureAccounts { nodeId accId }
           users(pageSize: 1) { nodes { id nodeId userName } } groups(pageSize: 1) { nodes { id nodeId name } } }`,
      )) as {
        azureStatus: { nodeId: string; state: string };
        azureAccounts: Array<{ nodeId: string; accId: string }>;
        users: { nodes: Array<{ id: string; nodeId: string; userName: string }> };
        groups: { nodes: Array<{ id: string; nodeId: string; name: string }> };
      };
      const user = first.users.nodes[0]!;
      const group = first.groups.nodes[0]!;
      const account = first.azureAccounts[0]!;
      expect(user.id).toBe(userIds[0]);
      const ids = [user.nodeId, group.nodeId, account.nodeId, first.azureStatus.nodeId];
      expect(new Set(ids).size).toBe(4);
      for (const raw of [user.id, group.id, account.accId]) expect(ids.join()).not.toContain(raw);
      const back = (await data(
        stack,
        `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename nodeId
           ... on User { id userName } ... on Group { id name } ... on AzureAccount { accId } ... on CloudStatus { state } } }`,
        { ids },
      )) as { nodes: Data[] };
      expect(back.nodes).toEqual([
        { __typename: 'User', nodeId: user.nodeId, id: user.id, userName: user.userName },
        { __typename: 'Group', nodeId: group.nodeId, id: group.id, name: group.name },
        { __typename: 'AzureAccount', nodeId: account.nodeId, accId: account.accId },
        { __typename: 'CloudStatus', nodeId: first.azureStatus.nodeId, state: first.azureStatus.state },
      ]);
      const one = (await data(stack, `query ($id: ID!) { node(id: $id) { ... on User { email } } }`, {
        id: user.nodeId,
      })) as { node: { email: string } };
      expect(one.node.email).toMatch(/@/);
    });

    it('nodes over ten users costs what ten `user` fields cost, or less', async () => {
      const ten = userIds.filter((_, i) => i % 97 === 5).slice(0, 10);
      expect(ten).toHaveLength(10);
      const aliased = `{ ${ten.map((id, i) => `u${i}: user(id: "${id}") { email }`).join(' ')} }`;
      await data(stack, aliased);
      const byUser = stack.calls();
      stack.resetCounts();
      const nodeIds = (await data(
        stack,
        `{ ${ten.map((id, i) => `u${i}: user(id: "${id}") { nodeId }`).join(' ')} }`,
      )) as Record<string, { nodeId: string }>;
      stack.resetCounts();
      const res = (await data(stack, `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on User { id email } } }`, {
        ids: Object.values(nodeIds).map((n) => n.nodeId),
      })) as { nodes: Array<{ id: string }> };
      expect(res.nodes.map((n) => n.id)).toEqual(ten);
      const byNodes = stack.calls();
      expect(byNodes['axis:total'] ?? 0).toBeLessThanOrEqual(byUser['axis:total'] ?? 0);
      expect(byNodes).toEqual(byUser);
    });

    it('usersConnection walks the whole tenant forward with first: 1000, one upstream call per page', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      let calls = 0;
      for (;;) {
        stack.resetCounts();
        const res = (await data(
          stack,
          // A variable, not a literal: graphql-armor's cost limit multiplies by a literal `first`.
          `query ($first: Int, $after: String) { usersConnection(first: $first, after: $after) {
             edges { cursor node { id nodeId groups { name } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }`,
          { first: 1000, after },
        )) as { usersConnection: Conn };
        const c = res.usersConnection;
        calls += stack.calls()['axis:total'] ?? 0;
        expect(c.totalCount).toBe(seedUsers);
        expect(c.pageInfo.hasPreviousPage).toBe(after !== null);
        expect(c.pageInfo.startCursor).toBe(c.edges[0]!.cursor);
        expect(c.pageInfo.endCursor).toBe(c.edges.at(-1)!.cursor);
        seen.push(...c.edges.map((e) => e.node.id));
        if (!c.pageInfo.hasNextPage) break;
        after = c.pageInfo.endCursor;
      }
      expect(seen).toHaveLength(seedUsers);
      expect(new Set(seen).size).toBe(seedUsers);
      expect(seen.slice(0, 1000)).toEqual(userIds);
      // Group names come with the users: one list call per page, nothing else.
      expect(calls).toBe(seedUsers / 1000);
    });

    it('a window after a cursor is one call; `last: 10` is two (the total, then the range); backward follows', async () => {
      const head = (await data(stack, '{ usersConnection(first: 10) { edges { cursor node { id } } } }')) as {
        usersConnection: Conn;
      };
      stack.resetCounts();
      const next = (await data(
        stack,
        `query ($after: String) { usersConnection(first: 10, after: $after) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } } }`,
        { after: head.usersConnection.edges[4]!.cursor },
      )) as { usersConnection: Conn };
      expect(next.usersConnection.edges.map((e) => e.node.id)).toEqual(userIds.slice(5, 15));
      expect(next.usersConnection.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true });
      expect(stack.calls()).toEqual({ 'axis:users.list': 1, 'axis:total': 1 });

      stack.resetCounts();
      const tail = (await data(
        stack,
        '{ usersConnection(last: 10) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor } totalCount } }',
      )) as { usersConnection: Conn };
      expect(tail.usersConnection.edges).toHaveLength(10);
      expect(tail.usersConnection.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      expect(stack.calls()).toEqual({ 'axis:users.list': 2, 'axis:total': 2 });

      stack.resetCounts();
      const before = (await data(
        stack,
        `query ($before: String) { usersConnection(last: 5, before: $before) { edges { node { id } } } }`,
        { before: head.usersConnection.edges[7]!.cursor },
      )) as { usersConnection: Conn };
      expect(before.usersConnection.edges.map((e) => e.node.id)).toEqual(userIds.slice(2, 7));
      expect(stack.calls()).toEqual({ 'axis:users.list': 1, 'axis:total': 1 });
    });

    it('groupsConnection pages the same way', async () => {
      const res = (await data(
        stack,
        `query ($first: Int) { groupsConnection(first: $first) { edges { node { id nodeId } } pageInfo { hasNextPage } totalCount }
           groups(pageSize: 40) { nodes { id } } }`,
        { first: 25 },
      )) as { groupsConnection: Conn; groups: { nodes: Array<{ id: string }> } };
      expect(res.groupsConnection.totalCount).toBe(40);
      expect(res.groupsConnection.pageInfo.hasNextPage).toBe(true);
      expect(res.groupsConnection.edges.map((e) => e.node.id)).toEqual(res.groups.nodes.slice(0, 25).map((g) => g.id));
    });
  });
}

describe('bad Relay input is BAD_USER_INPUT naming the argument, before any upstream call', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    await stack.gql('{ azureStatus { state } }');
  });
  afterAll(() => stack.close());
  beforeEach(() => stack.resetCounts());

  it.each([
    ['{ node(id: "u-0001") { nodeId } }', ['id']],
    ['{ nodes(ids: ["nope"]) { nodeId } }', ['ids[0]']],
    [`{ nodes(ids: [${Array.from({ length: 101 }, (_, i) => `"${i}"`).join(',')}]) { nodeId } }`, ['ids']],
    ['{ nodes(ids: []) { nodeId } }', ['ids']],
    ['query ($n: Int = 1001) { usersConnection(first: $n) { totalCount } }', ['first']],
    ['{ usersConnection(last: 0) { totalCount } }', ['last']],
    ['{ usersConnection(first: 1, last: 1) { totalCount } }', ['last']],
    ['{ groupsConnection(after: "bm9wZQ") { totalCount } }', ['after']],
  ])('%s', async (query, fields) => {
    const res = await stack.gql(query);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.extensions?.['fields']).toEqual(fields);
    expect(stack.calls()).toEqual({});
  });

  it('a node that no longer exists is null, like `user`', async () => {
    const ghost = Buffer.from('User:u-9999').toString('base64url');
    const res = await stack.gql(`{ node(id: "${ghost}") { nodeId } nodes(ids: ["${ghost}"]) { nodeId } }`);
    expect(res.body).toEqual({ data: { node: null, nodes: [null] } });
  });

  it('a literal first/last counts in the operation cost limit, like any list size', async () => {
    const res = await stack.gql('{ usersConnection(first: 1000) { edges { node { id email groups { name } } } } }');
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.body.errors?.[0]?.message).toMatch(/Cost limit of 500/);
    expect(stack.calls()).toEqual({});
  });
});
