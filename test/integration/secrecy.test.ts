import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack } from '../helpers/stack.js';

/**
 * Secrecy is an invariant, not a filter: whatever an upstream answers, no fragment of a
 * secret the gateway holds or has sent reaches a response or a log line, at any level.
 *
 * Every upstream route that carries a secret (each carries at least the NPM token or the
 * Axis token in its Authorization header; the login carries the NPM password, upsertAzureAccounts
 * the app password, createUser/updateUser the SSH key) is made to answer with the simulators'
 * `echo` fault: the vendor's error body quoting the whole request, headers and body included,
 * in its text (400, 409, 500) or in its error id (400). That runs at every log level.
 */

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
const ECHOES = [
  { status: 400, into: 'text' },
  { status: 409, into: 'text' },
  { status: 500, into: 'text' },
  { status: 400, into: 'errorId' },
] as const;

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const NPM_PASSWORD = secret('npm-pw');
const AXIS_TOKEN = secret('axis-tok');
const CLIENT_KEY = secret('client-key');
const APP_PASSWORD = secret('app-pw');
const SSH_BODY = [randomBytes(24).toString('base64'), randomBytes(24).toString('base64')];
const SSH_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${SSH_BODY.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;

interface SecretRoute {
  sim: 'npm' | 'axis';
  route: string;
  run(stack: Stack, send: Send): Promise<GraphQLResponse>;
}
type Send = (query: string, variables?: Record<string, unknown>) => Promise<GraphQLResponse>;

const ROUTES: SecretRoute[] = [
  {
    sim: 'npm',
    route: 'token.post',
    run: (stack, send) => {
      stack.npmSim.expireTokens();
      return send('{ azureStatus { state } }');
    },
  },
  { sim: 'npm', route: 'status.get', run: (_s, send) => send('{ azureStatus { state } }') },
  { sim: 'npm', route: 'authCodes.get', run: (_s, send) => send('{ azureAccounts { accId } }') },
  {
    sim: 'npm',
    route: 'syncStatus.put',
    run: (_s, send) => send('mutation { setAzureSyncEnabled(enabled: false) { state } }'),
  },
  { sim: 'npm', route: 'sync.post', run: (_s, send) => send('mutation { syncAzureAccounts { state } }') },
  {
    sim: 'npm',
    route: 'authCodes.put',
    run: (_s, send) =>
      send('mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }', {
        a: [{ accId: 'secrecy-acc', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: APP_PASSWORD }],
      }),
  },
  {
    sim: 'npm',
    route: 'authCodes.delete',
    run: (_s, send) => send('mutation { deleteAzureAccounts(accIds: ["prod-eastus"]) }'),
  },
  { sim: 'axis', route: 'users.list', run: (_s, send) => send('{ users(pageSize: 2) { nodes { id } } }') },
  { sim: 'axis', route: 'users.get', run: (_s, send) => send('{ user(id: "u-0001") { id } }') },
  {
    sim: 'axis',
    route: 'users.create',
    run: (_s, send) =>
      send('mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', {
        i: { userName: 'secrecy.user', email: 's@example.com', firstName: 'S', lastName: 'U', sshPrivateKey: SSH_KEY },
      }),
  },
  {
    sim: 'axis',
    route: 'users.update',
    run: (_s, send) =>
      send('mutation($k: String) { updateUser(id: "u-0002", input: { sshPrivateKey: $k }) { id } }', { k: SSH_KEY }),
  },
  { sim: 'axis', route: 'users.delete', run: (_s, send) => send('mutation { deleteUser(id: "u-0003") }') },
  { sim: 'axis', route: 'groups.list', run: (_s, send) => send('{ groups(pageSize: 2) { nodes { id } } }') },
  { sim: 'axis', route: 'groups.get', run: (_s, send) => send('{ group(id: "g-001") { id } }') },
  {
    sim: 'axis',
    route: 'groups.create',
    run: (_s, send) => send('mutation { createGroup(input: { name: "secrecy-group" }) { id } }'),
  },
  {
    sim: 'axis',
    route: 'groups.update',
    run: (_s, send) => send('mutation { updateGroup(id: "g-002", input: { description: "d" }) { id } }'),
  },
  { sim: 'axis', route: 'groups.delete', run: (_s, send) => send('mutation { deleteGroup(id: "g-003") }') },
  { sim: 'axis', route: 'commit', run: (_s, send) => send('mutation { commitAxisChanges }') },
];

/** The forms a secret can take in a JSON response or log line: raw, JSON-escaped once and twice. */
function forms(value: string): string[] {
  const once = JSON.stringify(value).slice(1, -1);
  return [...new Set([value, once, JSON.stringify(once).slice(1, -1)])];
}

/** Every 8-character run of every form of every secret: finding any one of them is a leak. */
function fragmentsOf(secrets: string[]): Map<string, string> {
  const fragments = new Map<string, string>();
  for (const s of secrets) {
    for (const form of forms(s)) {
      for (let i = 0; i + 8 <= form.length; i++) fragments.set(form.slice(i, i + 8), `${s.slice(0, 6)}...`);
    }
  }
  return fragments;
}

function leaks(fragments: Map<string, string>, text: string): string[] {
  const found = new Set<string>();
  for (let i = 0; i + 8 <= text.length; i++) {
    const owner = fragments.get(text.slice(i, i + 8));
    if (owner !== undefined) found.add(`${owner} at "${text.slice(Math.max(0, i - 20), i + 28)}"`);
  }
  return [...found];
}

const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
});

describe('no secret reaches a response or a log line, whatever an upstream echoes', () => {
  it.each(LEVELS)(`every secret-carrying route (${ROUTES.length}) x every echo, logging at %s`, async (level) => {
    const npmTokens = new Set<string>();
    const stack = await startStack({
      logLevel: level,
      env: {
        NPM_PASSWORD,
        AXIS_API_TOKEN: AXIS_TOKEN,
        GATEWAY_API_KEYS: `secrecy-admin=admin:${CLIENT_KEY}`,
        // Every route answers 500 once here: the breaker must not stop the matrix.
        BREAKER_THRESHOLD: '1000',
      },
      npm: {
        password: NPM_PASSWORD,
        onRequest: (_route, headers) => {
          const token = /^Bearer (\S+)$/i.exec(headers.authorization ?? '')?.[1];
          if (token !== undefined) npmTokens.add(token);
        },
      },
      axis: { tokens: { [AXIS_TOKEN]: 'rw' } },
    });
    stacks.push(stack);
    const bodies: string[] = [];
    const send: Send = async (query, variables) => {
      const res = await stack.gql(query, variables, { authorization: `Bearer ${CLIENT_KEY}` });
      bodies.push(JSON.stringify(res));
      return res;
    };
    let cases = 0;
    for (const { sim, route, run } of ROUTES) {
      for (const echo of ECHOES) {
        const simulator = sim === 'npm' ? stack.npmSim : stack.axisSim;
        simulator.resetCounts();
        simulator.addFault({ route, times: 1, action: { type: 'echo', status: echo.status, into: echo.into } });
        const res = await run(stack, send);
        const why = `${route} echo ${echo.status} into ${echo.into}: ${JSON.stringify(res.body)}`;
        // The echoing answer really happened, and the caller got an error for it.
        expect(simulator.counts()[route], why).toBeGreaterThanOrEqual(1);
        expect(res.body.errors?.length ?? 0, why).toBeGreaterThan(0);
        expect(res.status, why).toBeLessThan(500);
        cases += 1;
      }
      stack.npmSim.clearFaults();
      stack.axisSim.clearFaults();
    }
    expect(cases).toBe(ROUTES.length * ECHOES.length);
    expect(npmTokens.size).toBeGreaterThan(0);
    const fragments = fragmentsOf([
      NPM_PASSWORD,
      AXIS_TOKEN,
      CLIENT_KEY,
      APP_PASSWORD,
      SSH_KEY,
      ...SSH_BODY,
      ...npmTokens,
    ]);
    expect(bodies.flatMap((b) => leaks(fragments, b))).toEqual([]);
    expect(stack.logs.flatMap((l) => leaks(fragments, l))).toEqual([]);
    // The upstream debug lines were written at the verbose levels, the warnings at every level but error.
    if (level === 'trace' || level === 'debug') expect(stack.logs.some((l) => l.includes('"level":20'))).toBe(true);
    if (level !== 'error') expect(stack.logs.some((l) => l.includes('"level":40'))).toBe(true);
  });

  it('variables that do not fit their type are refused without printing the secrets they carry', async () => {
    const stack = await startStack({ logLevel: 'trace' });
    stacks.push(stack);
    const bodies = [
      await stack.gql('mutation($a: [AzureAccountInput!]!) { upsertAzureAccounts(accounts: $a) { accId } }', {
        a: [{ accId: 'x', tenantId: 't', subscriptionId: 's', appId: 'a', appPassword: APP_PASSWORD, extra: 1 }],
      }),
      await stack.gql('mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', {
        i: { email: 'e@example.com', firstName: 'F', lastName: 'L', sshPrivateKey: SSH_KEY },
      }),
    ];
    for (const res of bodies) {
      expect(res.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['BAD_USER_INPUT']);
      // Still says what is wrong.
      expect(res.body.errors?.[0]?.message).toMatch(/Field "(extra|userName)"/);
    }
    const fragments = fragmentsOf([APP_PASSWORD, SSH_KEY, ...SSH_BODY]);
    expect(bodies.flatMap((b) => leaks(fragments, JSON.stringify(b)))).toEqual([]);
    expect(stack.logs.flatMap((l) => leaks(fragments, l))).toEqual([]);
  });
});
