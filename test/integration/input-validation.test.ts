import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
beforeEach(() => {
  stack.npmSim.reset();
  stack.axisSim.reset();
  stack.resetCounts();
});

/** Asserts BAD_USER_INPUT naming exactly these fields, and that no upstream saw a request. */
async function expectRejected(query: string, variables: Record<string, unknown>, fields: string[]) {
  const res = await stack.gql(query, variables);
  expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  const error = res.body.errors?.[0];
  expect(error?.extensions?.['fields']).toEqual(fields);
  for (const field of fields) expect(error?.message).toContain(field);
  expect(stack.calls()).toEqual({});
  return res;
}

describe('input is checked before any upstream call', () => {
  it('createUser names each bad field', async () => {
    await expectRejected(
      'mutation($input: CreateUserInput!) { createUser(input: $input) { id } }',
      { input: { userName: '  ', email: 'not-an-email', firstName: 'Ada', lastName: '' } },
      ['input.userName', 'input.email', 'input.lastName'],
    );
  });

  it('updateUser refuses null for a field that cannot be cleared', async () => {
    await expectRejected(
      'mutation($input: UpdateUserInput!) { updateUser(id: "u-0001", input: $input) { id } }',
      { input: { userName: null, groupIds: ['g-001', 'g-001'] } },
      ['input.userName', 'input.groupIds'],
    );
  });

  it('upsertAzureAccounts names the account and field, and never echoes the password', async () => {
    const res = await expectRejected(
      'mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }',
      {
        a: [
          { accId: 'ok', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: 'hunter2-secret' },
          { accId: 'bad', tenantId: '', subscriptionId: 's', appId: 'a', appPassword: 'hunter2-secret' },
        ],
      },
      ['accounts[1].tenantId'],
    );
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
  });

  it('an empty account list or id list is refused', async () => {
    await expectRejected('mutation { upsertAzureAccounts(accounts: []) { accId } }', {}, ['accounts']);
    await expectRejected('mutation { deleteAzureAccounts(accIds: []) }', {}, ['accIds']);
  });

  it('page arguments are bounded', async () => {
    await expectRejected('{ users(pageSize: 0, pageNumber: 0) { totalRecords } }', {}, ['pageSize', 'pageNumber']);
    await expectRejected('{ groups(pageSize: 5000) { totalRecords } }', {}, ['pageSize']);
  });

  it('dot-segment and empty ids are refused', async () => {
    await expectRejected('{ user(id: "..") { id } }', {}, ['id']);
    await expectRejected('mutation { deleteGroup(id: "") }', {}, ['id']);
  });

  it('an invalid DateTime is refused by the scalar with BAD_USER_INPUT', async () => {
    const res = await stack.gql(
      'mutation($input: UpdateUserInput!) { updateUser(id: "u-0001", input: $input) { id } }',
      {
        input: { expiration: 'next tuesday' },
      },
    );
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.message).toContain('expiration');
    expect(stack.calls()).toEqual({});
  });

  it('a missing required argument is a GraphQL validation error with no upstream call', async () => {
    const res = await stack.gql('mutation { createUser(input: { userName: "x" }) { id } }');
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.message).toMatch(/email/);
    expect(new Set(codes(res))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(stack.calls()).toEqual({});
  });

  it('a variable of the wrong type is BAD_USER_INPUT naming the variable', async () => {
    const res = await stack.gql('query($n: Int) { users(pageSize: $n) { totalRecords } }', { n: 'ten' });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.message).toContain('$n');
    expect(stack.calls()).toEqual({});
  });

  it('a syntax error is GRAPHQL_PARSE_FAILED', async () => {
    const res = await stack.gql('{ users(pageSize: ) }');
    expect(codes(res)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(stack.calls()).toEqual({});
  });
});
