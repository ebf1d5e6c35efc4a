import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, VIEWER_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const SECRET = 'jwt-secret-under-test-0123456789abcdef';
const MUTATION = 'mutation { setAzureSyncEnabled(enabled: true) { enabled } }';

/** An HS256 token the stack accepts (AUTH_JWT_SECRET): a caller known by its JWT subject. */
function hs256(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { AUTH_JWT_SECRET: SECRET } });
});
afterAll(() => stack.close());

/** The audit lines written since `from`. */
function auditLines(from: number): Array<Record<string, unknown>> {
  return stack.logs
    .slice(from)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['audit'] === true);
}

describe('audit log', () => {
  it('writes one audit line per mutation: who, what, targets, outcome, duration; never input values', async () => {
    const before = stack.logs.length;
    const token = await hs256({ sub: 'erin', roles: ['admin'] });
    const created = await stack.gql(
      'mutation Create($i: CreateUserInput!) { createUser(input: $i) { id } }',
      {
        i: {
          userName: 'audit.me',
          email: 'audit@example.com',
          firstName: 'A',
          lastName: 'M',
          sshPrivateKey: 'KEY-Zz19',
        },
      },
      bearer(token),
    );
    const id = (created.body.data?.['createUser'] as { id: string }).id;
    await stack.gql('mutation { deleteAzureAccounts(accIds: ["no-such-account"]) }', undefined, bearer(ADMIN_KEY));
    await stack.gql(MUTATION, undefined, bearer(VIEWER_KEY)); // forbidden: audited too
    const audit = auditLines(before);
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({
      actor: { kind: 'jwt', id: 'erin' },
      operationName: 'Create',
      fields: [{ field: 'createUser', targets: [id] }],
      outcome: 'success',
    });
    expect(typeof audit[0]!['ms']).toBe('number');
    expect(audit[1]).toMatchObject({
      actor: { kind: 'api_key', id: 'test-admin' },
      fields: [{ field: 'deleteAzureAccounts', targets: ['no-such-account'] }],
      outcome: 'failure',
      errorCodes: ['NOT_FOUND'],
    });
    expect(audit[2]).toMatchObject({
      actor: { kind: 'api_key', id: 'test-viewer' },
      outcome: 'failure',
      errorCodes: ['FORBIDDEN'],
    });
    const text = JSON.stringify(audit);
    for (const secret of ['KEY-Zz19', 'audit@example.com', ADMIN_KEY, VIEWER_KEY, token])
      expect(text).not.toContain(secret);
  });

  it('each root field of a mutation lists the ids it acted on', async () => {
    const before = stack.logs.length;
    const res = await stack.gql('mutation Two { a: deleteUser(id: "u-0003") b: deleteUser(id: "u-0004") }');
    expect(res.body).toEqual({ data: { a: 'u-0003', b: 'u-0004' } });
    const audit = auditLines(before);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: { kind: 'api_key', id: 'test-admin' },
      operationName: 'Two',
      fields: [
        { field: 'deleteUser', targets: ['u-0003'] },
        { field: 'deleteUser', targets: ['u-0004'] },
      ],
      outcome: 'success',
    });
    expect(audit[0]).not.toHaveProperty('errorCodes');
  });

  it('queries are not audited', async () => {
    const before = stack.logs.length;
    const res = await stack.gql('query Look { azureStatus { state } users(pageSize: 1) { totalRecords } }');
    expect(res.body.errors).toBeUndefined();
    expect(stack.logs.length).toBeGreaterThan(before); // the request was logged, just not audited
    expect(auditLines(before)).toEqual([]);
  });
});
