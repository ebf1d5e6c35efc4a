import { makeExecutableSchema } from '@graphql-tools/schema';
import { executeSync, parse } from 'graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { selectsBeyond } from '../../src/resolvers/lookahead.js';
import { GROUP_REF_FIELDS, USER_REF_FIELDS } from '../../src/resolvers/sources.js';

/**
 * selectsBeyond decides, inside `user.groups` (or `group.users`), whether the next level
 * down needs whole entities, so the resolver can start that fetch now. The info it reads
 * is the one graphql-js builds: these tests execute documents against a small schema of
 * the same shape, with the gateway's cheap field sets. That the decision starts the fetch
 * is asserted through the gateway in test/integration/queries.test.ts.
 */
const typeDefs = /* GraphQL */ `
  type Query {
    user: User
    users: [User!]!
    group: Group
  }
  type User {
    id: ID!
    userName: String
    email: String
    firstName: String
    enabled: Boolean
    groups: [Group!]!
  }
  type Group {
    id: ID!
    name: String
    description: String
    users: [User!]!
  }
`;

type Decisions = { 'User.groups': boolean[]; 'Group.users': boolean[] };
let decided: Decisions;
let userCheap: ReadonlySet<string> = USER_REF_FIELDS;

const schema = makeExecutableSchema({
  typeDefs,
  resolvers: {
    User: {
      groups: (user: { groups: unknown[] }, _args: unknown, _ctx: unknown, info: GraphQLResolveInfo) => {
        decided['User.groups'].push(selectsBeyond(info, 'users', userCheap));
        return user.groups;
      },
    },
    Group: {
      users: (group: { users: unknown[] }, _args: unknown, _ctx: unknown, info: GraphQLResolveInfo) => {
        decided['Group.users'].push(selectsBeyond(info, 'groups', GROUP_REF_FIELDS));
        return group.users;
      },
    },
  },
});

const group: Record<string, unknown> = { id: 'g-1', name: 'ops', description: 'Operations' };
const user: Record<string, unknown> = { id: 'u-1', userName: 'ada', email: 'ada@example.com', enabled: true };
group['users'] = [user];
user['groups'] = [group];
const rootValue = { user, users: Array.from({ length: 50 }, () => user), group };

/** Runs `source` and returns what each list resolver decided, in call order. */
function decisions(source: string): Decisions {
  decided = { 'User.groups': [], 'Group.users': [] };
  const result = executeSync({ schema, document: parse(source), rootValue });
  expect(result.errors).toBeUndefined();
  return decided;
}

describe('selectsBeyond: user.groups { users { ... } }', () => {
  it.each([
    ['a field only the whole user has', '{ user { groups { users { email } } } }', true],
    ['only what a reference answers', '{ user { groups { users { id userName __typename } } } }', false],
    ['no users at all', '{ user { groups { id name } } }', false],
    ['an alias of users', '{ user { groups { members: users { email } } } }', true],
    [
      'a named fragment, inside a named fragment',
      '{ user { groups { ...G } } } fragment G on Group { users { ...U } } fragment U on User { firstName }',
      true,
    ],
    ['an inline fragment', '{ user { groups { ... on Group { users { id ... on User { enabled } } } } } }', true],
    [
      'the same field twice, merged by graphql-js, one of them costly',
      '{ user { groups { users { id } } groups { users { email } } } }',
      true,
    ],
    [
      'the same field twice, both cheap',
      '{ user { groups { users { id } } ...F } } fragment F on User { groups { users { userName } } }',
      false,
    ],
    // Directives are not evaluated: the guess errs on fetching.
    ['a skipped costly field', '{ user { groups { users @skip(if: true) { email } } } }', true],
  ])('%s: %s', (_case, source, expected) => {
    expect(decisions(source)['User.groups']).toEqual([expected]);
  });

  it('decides per occurrence: two aliases of user in one request get their own answers', () => {
    expect(
      decisions('{ a: user { groups { users { id } } } b: user { groups { users { email } } } }')['User.groups'],
    ).toEqual([false, true]);
  });

  it('a fragment cycle (refused by validation anyway) ends the walk', () => {
    expect(decisions('{ user { groups { ...A } } } fragment A on Group { users { id } ...A }')['User.groups']).toEqual([
      false,
    ]);
  });

  it('walks the selection once per list, not once per item', () => {
    class CountingSet extends Set<string> {
      lookups = 0;
      override has(value: string): boolean {
        this.lookups++;
        return super.has(value);
      }
    }
    const costly = '{ groups { users { id email firstName } } }';
    try {
      const one = (userCheap = new CountingSet(USER_REF_FIELDS));
      expect(decisions(`{ user ${costly} }`)['User.groups']).toEqual([true]);
      const fifty = (userCheap = new CountingSet(USER_REF_FIELDS));
      expect(decisions(`{ users ${costly} }`)['User.groups']).toEqual(Array.from({ length: 50 }, () => true));
      expect(one.lookups).toBeGreaterThan(0);
      expect(fifty.lookups).toBe(one.lookups);
    } finally {
      userCheap = USER_REF_FIELDS;
    }
  });
});

describe('selectsBeyond: group.users { groups { ... } }', () => {
  it.each([
    ['a field only the whole group has', '{ group { users { groups { description } } } }', true],
    ['only what a reference answers', '{ group { users { groups { id name __typename } } } }', false],
    ['no groups at all', '{ group { users { id email } } }', false],
  ])('%s: %s', (_case, source, expected) => {
    expect(decisions(source)['Group.users']).toEqual([expected]);
  });
});
