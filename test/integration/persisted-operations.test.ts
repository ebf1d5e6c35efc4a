import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { persistedOperationId } from '../../src/persisted-operations.js';
import { VIEWER_KEY, codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * Persisted operations through the real gateway and simulators: the shipped manifest plus one
 * operation with variables (the README examples have none), written to a temporary file.
 */
const shipped = JSON.parse(readFileSync(new URL('../../persisted-operations.json', import.meta.url), 'utf8')) as Record<
  string,
  string
>;
const idOf = (name: string): string => {
  const found = Object.entries(shipped).find(([, doc]) => new RegExp(`^(query|mutation) ${name} \\{`).test(doc));
  if (!found) throw new Error(`no operation ${name} in persisted-operations.json`);
  return found[0];
};
const USER_BY_ID = 'query UserById($id: ID!) {\n  user(id: $id) {\n    id\n    userName\n  }\n}';
const manifestFile = join(mkdtempSync(join(tmpdir(), 'persisted-')), 'manifest.json');
writeFileSync(manifestFile, JSON.stringify({ ...shipped, [persistedOperationId(USER_BY_ID)]: USER_BY_ID }));

const UNKNOWN_ID = 'f'.repeat(64);

function upstreamTotals(stack: Stack) {
  const c = stack.calls();
  return { npm: c['npm:total'] ?? 0, axis: c['axis:total'] ?? 0 };
}

/** The `graphql operation` log lines written since `from`. */
function operationLogs(stack: Stack, from: number): Array<Record<string, unknown>> {
  return stack.logs
    .slice(from)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('graphql operation'));
}

describe('persisted operations, arbitrary documents allowed (the default)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PERSISTED_OPERATIONS_FILE: manifestFile } });
    await stack.gql('{ azureStatus { state } }'); // the NPM login, once per token lifetime
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.axisSim.reset();
    stack.resetCounts();
  });

  it('runs a documentId (bare hex, as GraphQL Codegen emits it) with the same result and calls as the text', async () => {
    const byText = await stack.gql(shipped[idOf('Dashboard')]!);
    stack.resetCounts();
    const byId = await stack.post({ documentId: idOf('Dashboard') });
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(byText.body);
    expect(byId.body.errors).toBeUndefined();
    expect(upstreamTotals(stack)).toEqual({ npm: 2, axis: 1 });
  });

  it('accepts the GraphQL-over-HTTP sha256: prefix and Apollo extensions.persistedQuery', async () => {
    const prefixed = await stack.post({ documentId: `sha256:${idOf('UserDetails')}` });
    expect(prefixed.body.data).toMatchObject({ user: { id: 'u-0001' } });
    const apollo = await stack.post({
      extensions: { persistedQuery: { version: 1, sha256Hash: idOf('UserDetails') } },
    });
    expect(apollo.body).toEqual(prefixed.body);
  });

  it('passes variables to the persisted document, and checks them', async () => {
    const res = await stack.post({ documentId: persistedOperationId(USER_BY_ID), variables: { id: 'u-0002' } });
    expect(res.body).toEqual({ data: { user: { id: 'u-0002', userName: expect.any(String) } } });
    stack.resetCounts();
    const missing = await stack.post({ documentId: persistedOperationId(USER_BY_ID) });
    expect(codes(missing)).toEqual(['BAD_USER_INPUT']);
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
  });

  it('an unknown id is PERSISTED_OPERATION_NOT_FOUND (400), with no upstream call', async () => {
    for (const res of [
      await stack.post({ documentId: UNKNOWN_ID }),
      await stack.post({ extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_ID } } }),
      await stack.get({ documentId: `sha256:${UNKNOWN_ID}` }),
    ]) {
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['PERSISTED_OPERATION_NOT_FOUND']);
      expect(res.body.data).toBeUndefined();
    }
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
  });

  it('still runs arbitrary documents, and asks for a query or a documentId when there is neither', async () => {
    const res = await stack.gql('{ user(id: "u-0003") { id } }');
    expect(res.body).toEqual({ data: { user: { id: 'u-0003' } } });
    const empty = await stack.post({ variables: {} });
    expect(empty.status).toBe(400);
    expect(codes(empty)).toEqual(['BAD_REQUEST']);
  });

  it('auth applies: no credential is 401 (before the id is even looked up), a viewer cannot run a persisted mutation', async () => {
    for (const documentId of [idOf('UsersPage'), UNKNOWN_ID]) {
      const anonymous = await stack.post({ documentId }, { authorization: '' });
      expect(anonymous.status).toBe(401);
      expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
    }
    const viewerQuery = await stack.post({ documentId: idOf('UsersPage') }, { authorization: `Bearer ${VIEWER_KEY}` });
    expect(viewerQuery.body.errors).toBeUndefined();
    stack.resetCounts();
    const viewerMutation = await stack.post(
      { documentId: idOf('DeleteUser') },
      { authorization: `Bearer ${VIEWER_KEY}` },
    );
    expect(viewerMutation.status).toBe(403);
    expect(codes(viewerMutation)).toEqual(['FORBIDDEN']);
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
    expect(stack.axisSim.state().users.some((u) => u.id === 'u-0120')).toBe(true);
  });

  it('Idempotency-Key: a repeated persisted mutation is replayed; the same key for another persisted mutation is refused', async () => {
    const first = await stack.post({ documentId: idOf('DisableAzureSync') }, { 'idempotency-key': 'pq-1' });
    expect(first.body).toEqual({ data: { setAzureSyncEnabled: { enabled: false, state: expect.any(String) } } });
    expect(upstreamTotals(stack)).toEqual({ npm: 2, axis: 0 });
    const again = await stack.post({ documentId: idOf('DisableAzureSync') }, { 'idempotency-key': 'pq-1' });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(upstreamTotals(stack)).toEqual({ npm: 2, axis: 0 });
    // Neither request carries a query or variables: only the resolved document tells them apart.
    const other = await stack.post({ documentId: idOf('EnableAzureSync') }, { 'idempotency-key': 'pq-1' });
    expect(other.status).toBe(422);
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(upstreamTotals(stack)).toEqual({ npm: 2, axis: 0 });
    await stack.post({ documentId: idOf('EnableAzureSync') });
  });

  it('the operation log names the persisted operation', async () => {
    const from = stack.logs.length;
    await stack.post({ documentId: idOf('GroupsWithMembers') });
    expect(operationLogs(stack, from)).toEqual([
      expect.objectContaining({ operationName: 'GroupsWithMembers', operationType: 'query' }),
    ]);
  });

  it('GET serves persisted queries (CSRF header required as for any GET), never persisted mutations', async () => {
    const res = await stack.get({ documentId: idOf('UserDetails') });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ user: { id: 'u-0001' } });
    const withVariables = await stack.get({
      documentId: persistedOperationId(USER_BY_ID),
      variables: { id: 'u-0004' },
    });
    expect(withVariables.body).toEqual({ data: { user: { id: 'u-0004', userName: expect.any(String) } } });
    const apollo = await stack.get({
      extensions: { persistedQuery: { version: 1, sha256Hash: idOf('UserDetails') } },
    });
    expect(apollo.body).toEqual(res.body);

    stack.resetCounts();
    const mutation = await stack.get({ documentId: idOf('DeleteUser') });
    expect(mutation.status).toBe(405);
    expect(codes(mutation)).toEqual(['BAD_REQUEST']);
    // No credential (and so no CSRF-safe header either): the credential is the first problem named.
    const noCredential = await request(`${stack.url}/graphql?documentId=${idOf('UserDetails')}`);
    expect(noCredential.statusCode).toBe(401);
    expect(JSON.parse(await noCredential.body.text())).toMatchObject({
      errors: [{ extensions: { code: 'UNAUTHENTICATED' } }],
    });
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
  });
});

describe('PERSISTED_OPERATIONS_ONLY=true', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { PERSISTED_OPERATIONS_FILE: manifestFile, PERSISTED_OPERATIONS_ONLY: 'true' } });
  });
  afterAll(() => stack.close());
  beforeEach(() => stack.resetCounts());

  it('runs persisted operations', async () => {
    const res = await stack.post({ documentId: idOf('UsersPage') });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toMatchObject({ users: { pageNumber: 2, pageSize: 25 } });
  });

  it('refuses any document text with PERSISTED_OPERATION_REQUIRED (400) and no upstream call, even one in the manifest', async () => {
    for (const res of [
      await stack.gql('{ azureStatus { state } }'),
      await stack.gql(shipped[idOf('UserDetails')]!),
      await stack.post({ query: '{ azureStatus { state } }', documentId: idOf('Dashboard') }),
      await stack.gql('{ __schema { queryType { name } } }'),
      await stack.get({ query: '{ azureStatus { state } }' }),
    ]) {
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['PERSISTED_OPERATION_REQUIRED']);
      expect(res.body.data).toBeUndefined();
    }
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
  });

  it('unknown ids and empty requests are refused as in the default mode', async () => {
    expect(codes(await stack.post({ documentId: UNKNOWN_ID }))).toEqual(['PERSISTED_OPERATION_NOT_FOUND']);
    const empty = await stack.post({});
    expect(empty.status).toBe(400);
    expect(codes(empty)).toEqual(['BAD_REQUEST']);
    expect(upstreamTotals(stack)).toEqual({ npm: 0, axis: 0 });
  });

  it('GraphiQL and /health are unaffected', async () => {
    const page = await request(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(await page.body.text()).toContain('GraphiQL');
    const health = await request(`${stack.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
  });
});
