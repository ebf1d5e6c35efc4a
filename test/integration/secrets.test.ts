import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { ADMIN_KEY, AXIS_RW_TOKEN, NPM_PASSWORD, VIEWER_KEY, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

const APP_PASSWORD = 'azure-app-password-Zq81';
const SSH_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nssh-key-body-Kx55\n-----END OPENSSH PRIVATE KEY-----';
/** The caller's own credential (a client API key) is a secret too. */
const CALLER_CREDENTIAL = ADMIN_KEY;
const STATIC_NPM_TOKEN = 'static-npm-access-token-Pp09';

/** Every operation that carries or uses a secret, including failing ones that log errors. */
async function exerciseEverySecret(stack: Stack): Promise<string[]> {
  const bodies: string[] = [];
  const headers = { authorization: `Bearer ${CALLER_CREDENTIAL}` };
  const run = async (query: string, variables?: Record<string, unknown>) => {
    const res = await stack.gql(query, variables, headers);
    bodies.push(JSON.stringify(res));
  };
  await run('{ azureStatus { state } azureAccounts { accId } users(pageSize: 3) { nodes { id hasSshPrivateKey } } }');
  await run('mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }', {
    a: [{ accId: 'secret-test', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: APP_PASSWORD }],
  });
  // Rejected input carrying secrets: the error must not echo them.
  await run('mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }', {
    a: [{ accId: '', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: APP_PASSWORD }],
  });
  await run('mutation($i: CreateUserInput!) { createUser(input: $i) { id hasSshPrivateKey } }', {
    i: { userName: 'secret.tester', email: 'st@example.com', firstName: 'S', lastName: 'T', sshPrivateKey: SSH_KEY },
  });
  await run('mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', {
    i: { userName: 'secret.tester', email: 'st@example.com', firstName: 'S', lastName: 'T', sshPrivateKey: SSH_KEY },
  }); // CONFLICT: an upstream error on a request that carried a key
  await run('mutation($k: String) { updateUser(id: "u-0001", input: { sshPrivateKey: $k }) { id } }', { k: SSH_KEY });
  stack.npmSim.expireTokens();
  await run('{ azureStatus { state } }'); // re-login path
  stack.axisSim.addFault({ route: 'users.update', action: { type: 'malformed' } });
  await run('mutation($k: String) { updateUser(id: "u-0002", input: { sshPrivateKey: $k }) { id } }', { k: SSH_KEY });
  return bodies;
}

function expectNowhere(secrets: string[], haystacks: string[]) {
  for (const secret of secrets) {
    for (const text of haystacks) expect(text, `secret ${secret.slice(0, 8)}...`).not.toContain(secret);
  }
}

describe('secrets are write-only', () => {
  it('never appear in a response or a log line at trace level (password login)', async () => {
    await withStack({}, async (stack) => {
      const bodies = await exerciseEverySecret(stack);
      expect(stack.npmSim.state().accounts.find((a) => a.acc_id === 'secret-test')?.app_passwd).toBe(APP_PASSWORD);
      expect(stack.logs.length).toBeGreaterThan(20);
      expect(stack.logs.join('')).toContain('"level":20'); // debug lines (upstream calls) were written
      expectNowhere(
        [APP_PASSWORD, 'ssh-key-body-Kx55', CALLER_CREDENTIAL, NPM_PASSWORD, AXIS_RW_TOKEN],
        [...bodies, ...stack.logs],
      );
    });
  });

  it('never appear with a static NPM token either', async () => {
    await withStack(
      {
        env: { NPM_ACCESS_TOKEN: STATIC_NPM_TOKEN, NPM_USERNAME: '', NPM_PASSWORD: '' },
        npm: { staticTokens: [STATIC_NPM_TOKEN] },
      },
      async (stack) => {
        const bodies = await exerciseEverySecret(stack);
        expectNowhere(
          [STATIC_NPM_TOKEN, APP_PASSWORD, 'ssh-key-body-Kx55', CALLER_CREDENTIAL, AXIS_RW_TOKEN],
          [...bodies, ...stack.logs],
        );
      },
    );
  });

  it('never appear when the caller uses a JWT, nor do the JWT secret, rejected keys or idempotency keys', async () => {
    const jwtSecret = 'jwt-signing-secret-under-test-Hh31-0123456789';
    await withStack({ env: { AUTH_JWT_SECRET: jwtSecret, RATE_LIMIT_RPS: '1000' } }, async (stack) => {
      const token = await new SignJWT({ sub: 'secret-tester', roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(jwtSecret));
      const expired = await new SignJWT({ sub: 'secret-tester', roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .sign(new TextEncoder().encode(jwtSecret));
      const wrongKey = 'wrong-client-key-Tq52-0123456789abcdef';
      const bodies: string[] = [];
      const run = async (headers: Record<string, string>, query: string, variables?: Record<string, unknown>) =>
        bodies.push(JSON.stringify(await stack.gql(query, variables, headers)));
      const jwt = { authorization: `Bearer ${token}` };
      await run(jwt, '{ azureStatus { state } users(pageSize: 2) { nodes { id } } }');
      await run(
        { ...jwt, 'idempotency-key': 'idem-key-Vb77' },
        'mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }',
        { a: [{ accId: 'jwt-acc', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: APP_PASSWORD }] },
      );
      await run({ authorization: `Bearer ${expired}` }, '{ azureStatus { state } }');
      await run({ authorization: `Bearer ${wrongKey}` }, '{ azureStatus { state } }');
      await run({ authorization: `Bearer ${VIEWER_KEY}` }, 'mutation { commitAxisChanges }');
      expect(stack.logs.join('')).toContain('"audit":true');
      expectNowhere(
        [token, expired, jwtSecret, wrongKey, VIEWER_KEY, APP_PASSWORD, NPM_PASSWORD, AXIS_RW_TOKEN, 'idem-key-Vb77'],
        [...bodies, ...stack.logs],
      );
    });
  });

  it('the schema offers no field that could read a secret back', async () => {
    await withStack({}, async (stack) => {
      const res = await stack.gql('{ __schema { types { name fields { name } } } }');
      const types = (
        res.body.data?.['__schema'] as { types: Array<{ name: string; fields: Array<{ name: string }> | null }> }
      ).types;
      const fieldNames = types.flatMap((t) => (t.fields ?? []).map((f) => `${t.name}.${f.name}`.toLowerCase()));
      expect(
        fieldNames.filter((f) => /password|passwd|privatekey|secret|token/.test(f) && !f.endsWith('hassshprivatekey')),
      ).toEqual([]);
    });
  });
});
