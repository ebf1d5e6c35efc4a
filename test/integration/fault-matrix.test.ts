import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { AXIS_RO_TOKEN, codes, withStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack, StackOptions } from '../helpers/stack.js';

/**
 * The fault matrix: every fault the simulators can inject, against a query that needs both
 * upstreams and against the mutation whose upstream route the fault hits. Each row runs on
 * its own stack and proves, from the simulators' side (request counts and state), the error
 * code, the partial data, how often the route was called (retried or not) and how many
 * writes were applied; then what a client retry with the same Idempotency-Key gets once the
 * fault is gone: a final answer (a success, a refusal) is replayed without any upstream call;
 * an answer that is not final (nothing was applied, or the outcome stayed unknown) is not
 * kept, so the retry runs again and the write lands exactly once; and that the gateway
 * still serves a clean query.
 *
 * A note on "writes applied": the simulators apply every fault before the vendor handler
 * runs (simulators/sim-server.ts: count -> body -> latency -> fault -> handler), so a
 * faulted write is never applied there. A real upstream may have applied a write whose
 * answer was lost (reset after sending, hang, malformed 200), which is why the gateway never
 * repeats such a write blindly: it settles it by reading afterwards (a create looked up by
 * userName, a PUT read back) and answers NOT_APPLIED when it was not applied.
 */

const BOTH = '{ azureStatus { state } users(pageSize: 5) { totalRecords nodes { id } } }';
const CREATE_USER = `mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id userName } }`;
const NEW_USER = { userName: 'matrix.user', email: 'matrix.user@example.com', firstName: 'Matrix', lastName: 'User' };
const UPDATE_USER = 'mutation { updateUser(id: "u-0001", input: { lastName: "Matrix" }) { id lastName } }';
const DISABLE_SYNC = 'mutation { setAzureSyncEnabled(enabled: false) { enabled state } }';
const SYNC_NOW = 'mutation { syncAzureAccounts { state lastSyncAt } }';
const UPSERT_ACCOUNT = `mutation {
  upsertAzureAccounts(
    accounts: [
      {
        accId: "matrix-northeurope"
        tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47"
        subscriptionId: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
        appId: "e1f2a3b4-c5d6-47e8-9f0a-1b2c3d4e5f60"
        appPassword: "app-client-secret"
      }
    ]
  ) { accId }
}`;

/** Short per-attempt timeout so hang rows stay quick; retries and deadlines keep their defaults. */
const MATRIX_ENV = { UPSTREAM_TIMEOUT_MS: '750' };

/** How many of the row's intended writes the simulators hold (their state is the source of truth). */
const WRITES = {
  createUser: (s: Stack) => s.axisSim.state().users.filter((u) => u.userName === NEW_USER.userName).length,
  updateUser: (s: Stack) => s.axisSim.state().users.filter((u) => u.id === 'u-0001' && u.lastName === 'Matrix').length,
  disableSync: (s: Stack) => (s.npmSim.state().sync.enabled ? 0 : 1),
  // The seeded last sync is 17 minutes old; a sync that ran now moves it.
  syncNow: (s: Stack) => (s.npmSim.state().sync.last_sync_ts > Date.now() / 1000 - 60 ? 1 : 0),
  upsertAccount: (s: Stack) => s.npmSim.state().accounts.filter((a) => a.acc_id === 'matrix-northeurope').length,
};

interface Row {
  fault: string;
  operation: string;
  stack?: StackOptions;
  /** Installs the fault once the stack is warm (NPM logged in, counts reset). */
  arrange: (s: Stack) => void;
  document: string;
  variables?: Record<string, unknown>;
  /** The single error code expected, or undefined for a clean answer. */
  code: ErrorCode | undefined;
  data: Record<string, unknown> | null;
  /** Exact upstream requests per route (totals left out). */
  calls: Record<string, number>;
  writes?: { measure: (s: Stack) => number; expected: number };
  /** Lower bound of the response time, for rows whose correctness is a wait (Retry-After). */
  minMs?: number;
  extensions?: Record<string, unknown>;
  /**
   * Mutations: what the same request with the same Idempotency-Key does once the fault is
   * gone. `replayed`: the first answer was final. `runs`: it was not (nothing applied, or an
   * unknown outcome), so it runs again; `writesAfter` is what the simulators then hold.
   */
  retry?: { kind: 'replayed' } | { kind: 'runs'; writesAfter: number };
}

const NPM_OK = { azureStatus: { state: 'SYNC_SUCCEEDED' } };
const AXIS_OK = { users: { totalRecords: 120 } };
const BOTH_OK = { ...NPM_OK, ...AXIS_OK };
const RO_401: StackOptions = { env: { AXIS_API_TOKEN: AXIS_RO_TOKEN }, axis: { readOnlyWriteStatus: 401 } };
const RO_403: StackOptions = { env: { AXIS_API_TOKEN: AXIS_RO_TOKEN }, axis: { readOnlyWriteStatus: 403 } };
const RETRY_AFTER_1 = { 'Retry-After': '1' };

const ROWS: Row[] = [
  // ---- connection reset (TCP RST before any answer) -----------------------------------
  {
    fault: 'connection reset',
    operation: 'query (Axis users.list)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.list', action: { type: 'reset' } }),
    document: BOTH,
    code: 'UPSTREAM_UNAVAILABLE',
    data: { ...NPM_OK, users: null },
    calls: { 'npm:status.get': 1, 'axis:users.list': 3 },
  },
  {
    fault: 'connection reset ×1',
    operation: 'query (Axis users.list)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'reset' } }),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 1, 'axis:users.list': 2 },
  },
  {
    fault: 'connection reset',
    operation: 'createUser (Axis POST users.create)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.create', action: { type: 'reset' } }),
    document: CREATE_USER,
    variables: { input: NEW_USER },
    code: 'UPSTREAM_UNAVAILABLE',
    data: null,
    // The POST left before the reset: not repeated, but settled by looking the userName up.
    calls: { 'axis:users.create': 1, 'axis:users.list': 1 },
    writes: { measure: WRITES.createUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  {
    fault: 'connection reset',
    operation: 'updateUser (Axis PUT users.update)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.update', action: { type: 'reset' } }),
    document: UPDATE_USER,
    code: 'UPSTREAM_UNAVAILABLE',
    data: null,
    // The PUT left the gateway before the reset: it may have been applied, so it is not
    // repeated; it is read back instead (reads: the lock's first read, the fresh one inside
    // the lock, the read-back).
    calls: { 'axis:users.get': 3, 'axis:users.update': 1 },
    writes: { measure: WRITES.updateUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- 500 --------------------------------------------------------------------------------
  {
    fault: '500',
    operation: 'query (NPM status.get)',
    arrange: (s) => s.npmSim.addFault({ route: 'status.get', action: { type: 'error', status: 500 } }),
    document: BOTH,
    code: 'UPSTREAM_ERROR',
    data: { azureStatus: null, ...AXIS_OK },
    // 500 is not a retry status: the upstream answered, and answered "broken".
    calls: { 'npm:status.get': 1, 'axis:users.list': 1 },
  },
  {
    fault: '500',
    operation: 'upsertAzureAccounts (NPM PUT authCodes.put)',
    arrange: (s) => s.npmSim.addFault({ route: 'authCodes.put', action: { type: 'error', status: 500 } }),
    document: UPSERT_ACCOUNT,
    code: 'UPSTREAM_ERROR',
    data: null,
    calls: { 'npm:authCodes.put': 1 },
    writes: { measure: WRITES.upsertAccount, expected: 0 },
    // Unknown (the app password cannot be read back) and not kept: the idempotent PUT runs again.
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- 503 with Retry-After: 1 -----------------------------------------------------------
  {
    fault: '503 Retry-After: 1 ×1',
    operation: 'query (NPM status.get)',
    arrange: (s) =>
      s.npmSim.addFault({
        route: 'status.get',
        times: 1,
        action: { type: 'error', status: 503, headers: RETRY_AFTER_1 },
      }),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 2, 'axis:users.list': 1 },
    // Retry-After honoured: the retry waited the second the upstream asked for.
    minMs: 950,
  },
  {
    fault: '503 Retry-After: 1',
    operation: 'query (NPM status.get)',
    arrange: (s) =>
      s.npmSim.addFault({ route: 'status.get', action: { type: 'error', status: 503, headers: RETRY_AFTER_1 } }),
    document: BOTH,
    code: 'UPSTREAM_ERROR',
    data: { azureStatus: null, ...AXIS_OK },
    calls: { 'npm:status.get': 3, 'axis:users.list': 1 },
    minMs: 1_900,
    extensions: { upstream: 'npm', upstreamStatus: 503, retryAfterSeconds: 1 },
  },
  {
    fault: '503 Retry-After: 1',
    operation: 'createUser (Axis POST users.create)',
    arrange: (s) =>
      s.axisSim.addFault({ route: 'users.create', action: { type: 'error', status: 503, headers: RETRY_AFTER_1 } }),
    document: CREATE_USER,
    variables: { input: NEW_USER },
    code: 'UPSTREAM_ERROR',
    data: null,
    calls: { 'axis:users.create': 1, 'axis:users.list': 1 },
    writes: { measure: WRITES.createUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- 429 ----------------------------------------------------------------------------------
  {
    fault: '429',
    operation: 'query (Axis users.list)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.list', action: { type: 'error', status: 429 } }),
    document: BOTH,
    code: 'UPSTREAM_RATE_LIMITED',
    data: { ...NPM_OK, users: null },
    calls: { 'npm:status.get': 1, 'axis:users.list': 3 },
  },
  {
    fault: '429 ×1',
    operation: 'query (Axis users.list)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'error', status: 429 } }),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 1, 'axis:users.list': 2 },
  },
  {
    fault: '429',
    operation: 'updateUser (Axis PUT users.update)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.update', action: { type: 'error', status: 429 } }),
    document: UPDATE_USER,
    code: 'UPSTREAM_RATE_LIMITED',
    data: null,
    calls: { 'axis:users.get': 2, 'axis:users.update': 1 },
    writes: { measure: WRITES.updateUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  {
    fault: '429 Retry-After: 1 ×1',
    operation: 'query (Axis users.list)',
    arrange: (s) =>
      s.axisSim.addFault({
        route: 'users.list',
        times: 1,
        action: { type: 'error', status: 429, headers: RETRY_AFTER_1 },
      }),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 1, 'axis:users.list': 2 },
    minMs: 950,
  },
  {
    fault: '429 Retry-After: 1',
    operation: 'setAzureSyncEnabled (NPM PUT syncStatus.put)',
    arrange: (s) =>
      s.npmSim.addFault({ route: 'syncStatus.put', action: { type: 'error', status: 429, headers: RETRY_AFTER_1 } }),
    document: DISABLE_SYNC,
    code: 'UPSTREAM_RATE_LIMITED',
    data: null,
    calls: { 'npm:syncStatus.put': 1 },
    writes: { measure: WRITES.disableSync, expected: 0 },
    extensions: { upstream: 'npm', upstreamStatus: 429, retryAfterSeconds: 1, outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- hang (no answer; UPSTREAM_TIMEOUT_MS=750 per attempt) ------------------------------
  // Each attempt lasts the full UPSTREAM_TIMEOUT_MS: the gateway's own timer is exact
  // (undici's coarse header/body timers only back it up), so the lower bounds hold.
  {
    fault: 'hang',
    operation: 'query (Axis users.list)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.list', action: { type: 'hang' } }),
    document: BOTH,
    code: 'UPSTREAM_TIMEOUT',
    data: { ...NPM_OK, users: null },
    calls: { 'npm:status.get': 1, 'axis:users.list': 3 },
    minMs: 3 * 750,
  },
  {
    fault: 'hang ×1',
    operation: 'query (NPM status.get)',
    arrange: (s) => s.npmSim.addFault({ route: 'status.get', times: 1, action: { type: 'hang' } }),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 2, 'axis:users.list': 1 },
  },
  {
    fault: 'hang',
    operation: 'createUser (Axis POST users.create)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.create', action: { type: 'hang' } }),
    document: CREATE_USER,
    variables: { input: NEW_USER },
    code: 'UPSTREAM_TIMEOUT',
    data: null,
    calls: { 'axis:users.create': 1, 'axis:users.list': 1 },
    minMs: 750,
    writes: { measure: WRITES.createUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- malformed JSON / wrong shape on a 200 -------------------------------------------------
  {
    fault: 'malformed JSON',
    operation: 'query (NPM status.get)',
    arrange: (s) => s.npmSim.addFault({ route: 'status.get', action: { type: 'malformed' } }),
    document: BOTH,
    code: 'UPSTREAM_BAD_RESPONSE',
    data: { azureStatus: null, ...AXIS_OK },
    calls: { 'npm:status.get': 1, 'axis:users.list': 1 },
  },
  {
    fault: 'malformed JSON',
    operation: 'updateUser (Axis GET users.get before the PUT)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.get', action: { type: 'malformed' } }),
    document: UPDATE_USER,
    code: 'UPSTREAM_BAD_RESPONSE',
    data: null,
    // The read-merge-write stops at the unreadable read: no PUT is sent.
    calls: { 'axis:users.get': 1 },
    writes: { measure: WRITES.updateUser, expected: 0 },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  {
    fault: 'wrong shape',
    operation: 'createUser (Axis POST users.create)',
    arrange: (s) => s.axisSim.addFault({ route: 'users.create', action: { type: 'wrongShape' } }),
    document: CREATE_USER,
    variables: { input: NEW_USER },
    code: 'UPSTREAM_BAD_RESPONSE',
    data: null,
    calls: { 'axis:users.create': 1, 'axis:users.list': 1 },
    writes: { measure: WRITES.createUser, expected: 0 },
    extensions: { outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 1 },
  },
  // ---- expired NPM token mid-run -------------------------------------------------------------
  {
    fault: 'expired NPM token',
    operation: 'query (NPM status.get)',
    arrange: (s) => s.npmSim.expireTokens(),
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    // The rejected try, one login, the retry.
    calls: { 'npm:token.post': 1, 'npm:status.get': 2, 'axis:users.list': 1 },
  },
  {
    fault: 'expired NPM token',
    operation: 'syncAzureAccounts (NPM POST sync.post)',
    arrange: (s) => s.npmSim.expireTokens(),
    document: SYNC_NOW,
    code: undefined,
    data: { syncAzureAccounts: { state: 'SYNC_INITIALIZING' } },
    // A 401 means the appliance refused before doing anything, so even the POST is sent again, once.
    calls: { 'npm:token.post': 1, 'npm:sync.post': 2, 'npm:status.get': 1 },
    writes: { measure: WRITES.syncNow, expected: 1 },
    retry: { kind: 'replayed' },
  },
  // ---- read-only Axis token ----------------------------------------------------------------
  {
    fault: 'read-only Axis token (401)',
    operation: 'query (Axis users.list)',
    stack: RO_401,
    arrange: () => undefined,
    document: BOTH,
    code: undefined,
    data: BOTH_OK,
    calls: { 'npm:status.get': 1, 'axis:users.list': 1 },
  },
  {
    fault: 'read-only Axis token (401)',
    operation: 'createUser (Axis POST users.create)',
    stack: RO_401,
    arrange: () => undefined,
    document: CREATE_USER,
    variables: { input: NEW_USER },
    code: 'UPSTREAM_AUTH_FAILED',
    data: null,
    calls: { 'axis:users.create': 1 },
    writes: { measure: WRITES.createUser, expected: 0 },
    // Refused before anything was done: not kept, and the retry meets the same token.
    extensions: { upstream: 'axis', upstreamStatus: 401, outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 0 },
  },
  {
    fault: 'read-only Axis token (403)',
    operation: 'updateUser (Axis PUT users.update)',
    stack: RO_403,
    arrange: () => undefined,
    document: UPDATE_USER,
    code: 'UPSTREAM_AUTH_FAILED',
    data: null,
    calls: { 'axis:users.get': 2, 'axis:users.update': 1 },
    writes: { measure: WRITES.updateUser, expected: 0 },
    extensions: { upstream: 'axis', upstreamStatus: 403, outcome: 'NOT_APPLIED' },
    retry: { kind: 'runs', writesAfter: 0 },
  },
];

/** `stack.calls()` without the per-simulator totals. */
function routeCalls(s: Stack): Record<string, number> {
  return Object.fromEntries(Object.entries(s.calls()).filter(([route]) => !route.endsWith(':total')));
}

function describeCalls(calls: Record<string, number>): string {
  const entries = Object.entries(calls);
  return entries.length === 0 ? 'none' : entries.map(([route, n]) => `${route} ×${n}`).join(', ');
}

function clearFaults(s: Stack): void {
  s.npmSim.clearFaults();
  s.axisSim.clearFaults();
}

/** Rows of the printed table, in the order the tests ran. */
const report: Array<{ fault: string; operation: string; code: string; calls: string; writes: string }> = [];

afterAll(() => {
  const lines = [
    '| fault | operation | code | upstream calls | writes applied |',
    '| --- | --- | --- | --- | --- |',
    ...report.map((r) => `| ${r.fault} | ${r.operation} | ${r.code} | ${r.calls} | ${r.writes} |`),
  ];
  console.log(`Fault matrix\n${lines.join('\n')}`);
});

/** withStack with the matrix's defaults plus the row's, a warm NPM login and zeroed counts. */
function withWarmStack<T>(options: StackOptions, body: (s: Stack) => Promise<T>): Promise<T> {
  return withStack({ ...options, env: { ...MATRIX_ENV, ...options.env } }, async (s) => {
    await s.gql('{ azureStatus { state } }');
    s.resetCounts();
    return body(s);
  });
}

/** A clean query after the fault is gone: the process is alive and both upstreams answer. */
async function expectHealthy(s: Stack): Promise<void> {
  clearFaults(s);
  const health = await fetch(`${s.url}/health`);
  expect(health.status).toBe(200);
  const res = await s.gql(BOTH);
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data).toMatchObject({
    azureStatus: { state: expect.any(String) },
    users: { totalRecords: expect.any(Number) },
  });
}

/** A response body without the errors' source locations (see the replay test at the end). */
function withoutLocations(body: GraphQLResponse['body']): unknown {
  const errors = body.errors?.map((e) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'locations')));
  return errors === undefined ? body : { ...body, errors };
}

describe('fault matrix: each fault against a two-upstream query and the mutation it hits', () => {
  it.each(ROWS.map((row) => [row.fault, row.operation, row] as const))('%s × %s', async (_fault, _op, row) => {
    await withWarmStack(row.stack ?? {}, async (s) => {
      row.arrange(s);
      const mutation = row.document.trimStart().startsWith('mutation');
      const key = { 'Idempotency-Key': `matrix-${ROWS.indexOf(row)}` };
      const started = Date.now();
      const res = await s.gql(row.document, row.variables, mutation ? key : {});
      const elapsed = Date.now() - started;
      const calls = routeCalls(s);
      const writes = row.writes?.measure(s);
      report.push({
        fault: row.fault,
        operation: row.operation,
        code: row.code ?? 'none (data)',
        calls: describeCalls(calls),
        writes: writes === undefined ? '–' : String(writes),
      });

      expect(res.status).toBeLessThan(500);
      expect(codes(res)).toEqual(row.code === undefined ? [] : [row.code]);
      if (row.data === null) expect(res.body.data).toBeNull();
      else expect(res.body.data).toMatchObject(row.data);
      if (row.extensions) expect(res.body.errors?.[0]?.extensions).toMatchObject(row.extensions);
      expect(calls).toEqual(row.calls);
      if (row.writes) expect(writes).toBe(row.writes.expected);
      if (row.minMs !== undefined) expect(elapsed).toBeGreaterThanOrEqual(row.minMs - 50);

      if (mutation) {
        // The client retries with the same key once the fault is gone.
        clearFaults(s);
        s.resetCounts();
        const again = await s.gql(row.document, row.variables, key);
        const retry = row.retry ?? { kind: 'replayed' };
        if (retry.kind === 'replayed') {
          // A final answer: replayed, nothing reaches an upstream, nothing is written again.
          expect(again.headers['idempotent-replayed']).toBe('true');
          expect(again.status).toBe(res.status);
          expect(withoutLocations(again.body)).toEqual(withoutLocations(res.body));
          expect(routeCalls(s)).toEqual({});
          if (row.writes) expect(row.writes.measure(s)).toBe(row.writes.expected);
        } else {
          // Not final: the key did not keep it, the write runs again and lands exactly once.
          expect(again.headers['idempotent-replayed']).toBeUndefined();
          expect(Object.keys(routeCalls(s)).length).toBeGreaterThan(0);
          expect(row.writes?.measure(s)).toBe(retry.writesAfter);
          if (retry.writesAfter > 0) expect(again.body.errors).toBeUndefined();
        }
      }
      await expectHealthy(s);
    });
  });
});

describe('circuit breaker', () => {
  it('opens after BREAKER_THRESHOLD failures, fails fast with no upstream traffic, /ready says 503, then recovers', async () => {
    const HALF_OPEN_MS = 800;
    await withWarmStack({ env: { BREAKER_THRESHOLD: '3', BREAKER_HALF_OPEN_MS: String(HALF_OPEN_MS) } }, async (s) => {
      // 500 is not retried, so each query is exactly one failure.
      s.axisSim.addFault({ route: 'users.list', action: { type: 'error', status: 500 } });
      for (let i = 0; i < 3; i++) expect(codes(await s.gql(BOTH))).toEqual(['UPSTREAM_ERROR']);
      const openedAt = Date.now();
      expect(s.upstreams.circuits().axis).toBe('open');
      expect(s.calls()['axis:users.list']).toBe(3);

      s.resetCounts();
      const fast = await s.gql(BOTH);
      const ready = await fetch(`${s.url}/ready`);
      // Both checks must land inside the open window, or they prove nothing.
      expect(Date.now() - openedAt).toBeLessThan(HALF_OPEN_MS);
      expect(codes(fast)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(fast.body.errors?.[0]?.message).toMatch(/not calling it for a few seconds/);
      expect(fast.body.data).toMatchObject({ ...NPM_OK, users: null });
      expect(ready.status).toBe(503);
      expect(s.axisSim.counts()['total']).toBe(0);
      report.push({
        fault: '500 ×3 (BREAKER_THRESHOLD=3)',
        operation: 'query while the circuit is open',
        code: 'UPSTREAM_UNAVAILABLE',
        calls: describeCalls(routeCalls(s)),
        writes: '–',
      });

      // A mutation refused by the open circuit never left: its key is not kept, so the
      // same request runs for real once the upstream is back.
      const key = { 'Idempotency-Key': 'breaker-create' };
      const refused = await s.gql(CREATE_USER, { input: NEW_USER }, key);
      expect(codes(refused)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(s.axisSim.counts()['total']).toBe(0);

      // Half-open with the fault still there: one probe, which fails and opens the circuit again.
      await new Promise((resolve) => setTimeout(resolve, HALF_OPEN_MS + 100));
      s.resetCounts();
      expect(codes(await s.gql(BOTH))).toEqual(['UPSTREAM_ERROR']);
      expect(s.calls()['axis:users.list']).toBe(1);
      expect(s.upstreams.circuits().axis).toBe('open');

      // Half-open with the upstream healthy: the probe succeeds and the circuit closes.
      s.axisSim.clearFaults();
      await new Promise((resolve) => setTimeout(resolve, HALF_OPEN_MS + 100));
      s.resetCounts();
      const recovered = await s.gql(BOTH);
      expect(recovered.body.errors).toBeUndefined();
      expect(s.upstreams.circuits().axis).toBe('closed');
      expect(s.calls()['axis:users.list']).toBe(1);
      report.push({
        fault: 'circuit open, then healthy',
        operation: `query after BREAKER_HALF_OPEN_MS=${HALF_OPEN_MS}`,
        code: 'none (data)',
        calls: describeCalls(routeCalls(s)),
        writes: '–',
      });

      s.resetCounts();
      const rerun = await s.gql(CREATE_USER, { input: NEW_USER }, key);
      expect(rerun.headers['idempotent-replayed']).toBeUndefined();
      expect(rerun.body.errors).toBeUndefined();
      expect(routeCalls(s)).toEqual({ 'axis:users.create': 1, 'axis:commit': 1 });
      expect(WRITES.createUser(s)).toBe(1);
      report.push({
        fault: 'circuit open (nothing sent)',
        operation: 'createUser retried with the same Idempotency-Key after recovery',
        code: 'none (data)',
        calls: describeCalls(routeCalls(s)),
        writes: String(WRITES.createUser(s)),
      });
      await expectHealthy(s);
    });
  });
});

describe('concurrency cap', () => {
  it('a call beyond UPSTREAM_MAX_CONCURRENCY + UPSTREAM_MAX_QUEUE is UPSTREAM_UNAVAILABLE with no traffic, and its key is not kept', async () => {
    await withWarmStack({ env: { UPSTREAM_MAX_CONCURRENCY: '1', UPSTREAM_MAX_QUEUE: '0' } }, async (s) => {
      // One slow read holds Axis's only slot.
      s.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'delay', ms: 400 } });
      const slow = s.gql('{ users(pageSize: 1) { totalRecords } }');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const key = { 'Idempotency-Key': 'queue-full-create' };
      const refused = await s.gql(CREATE_USER, { input: NEW_USER }, key);
      expect(refused.status).toBeLessThan(500);
      expect(codes(refused)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(refused.body.errors?.[0]?.message).toMatch(/overloaded/);
      expect(s.calls()['axis:users.create']).toBeUndefined();
      expect((await slow).body.errors).toBeUndefined();
      report.push({
        fault: 'queue full (UPSTREAM_MAX_CONCURRENCY=1, UPSTREAM_MAX_QUEUE=0)',
        operation: 'createUser while a slow read holds the slot',
        code: 'UPSTREAM_UNAVAILABLE',
        calls: describeCalls(routeCalls(s)),
        writes: String(WRITES.createUser(s)),
      });

      // Nothing reached Axis, so the same key runs the write for real now.
      s.resetCounts();
      const rerun = await s.gql(CREATE_USER, { input: NEW_USER }, key);
      expect(rerun.headers['idempotent-replayed']).toBeUndefined();
      expect(rerun.body.errors).toBeUndefined();
      expect(routeCalls(s)).toEqual({ 'axis:users.create': 1, 'axis:commit': 1 });
      expect(WRITES.createUser(s)).toBe(1);
      await expectHealthy(s);
    });
  });
});

describe('Retry-After and the whole-request deadline', () => {
  it.each([
    ['30 (seconds)', (): string => '30', 30],
    ['an HTTP date an hour ahead', (): string => new Date(Date.now() + 3_600_000).toUTCString(), 3_600],
  ] as const)(
    'a 429 with Retry-After %s is not waited for: UPSTREAM_RATE_LIMITED at once, with the hint',
    async (label, header, seconds) => {
      await withWarmStack({}, async (s) => {
        s.axisSim.addFault({
          route: 'users.list',
          action: { type: 'error', status: 429, headers: { 'Retry-After': header() } },
        });
        const started = Date.now();
        const res = await s.gql(BOTH);
        const elapsed = Date.now() - started;
        expect(codes(res)).toEqual(['UPSTREAM_RATE_LIMITED']);
        const hint = res.body.errors?.[0]?.extensions?.['retryAfterSeconds'] as number;
        // An HTTP date has one-second resolution.
        expect(hint).toBeGreaterThanOrEqual(seconds - 1);
        expect(hint).toBeLessThanOrEqual(seconds);
        expect(res.body.data).toMatchObject({ ...NPM_OK, users: null });
        expect(s.calls()['axis:users.list']).toBe(1);
        // Nowhere near the hint: the gateway did not sit on the request.
        expect(elapsed).toBeLessThan(5_000);
        report.push({
          fault: `429 Retry-After: ${label}`,
          operation: 'query (Axis users.list)',
          code: 'UPSTREAM_RATE_LIMITED',
          calls: describeCalls(routeCalls(s)),
          writes: '–',
        });
        await expectHealthy(s);
      });
    },
  );

  it.each([
    ['query (NPM status.get hangs)', BOTH, undefined, 'npm', 'status.get', { ...AXIS_OK, azureStatus: null }],
    ['createUser (Axis users.create hangs)', CREATE_USER, { input: NEW_USER }, 'axis', 'users.create', null],
  ] as const)(
    'REQUEST_TIMEOUT_MS bounds the whole request: %s',
    async (operation, document, variables, upstream, route, data) => {
      const DEADLINE_MS = 800;
      // Each attempt may take 1500 ms; the whole request only 800.
      await withWarmStack(
        { env: { REQUEST_TIMEOUT_MS: String(DEADLINE_MS), UPSTREAM_TIMEOUT_MS: '1500' } },
        async (s) => {
          (upstream === 'npm' ? s.npmSim : s.axisSim).addFault({ route, action: { type: 'hang' } });
          const started = Date.now();
          const res: GraphQLResponse = await s.gql(document, variables);
          const elapsed = Date.now() - started;
          expect(codes(res)).toEqual(['UPSTREAM_TIMEOUT']);
          expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
          expect(elapsed).toBeLessThan(DEADLINE_MS + 700);
          if (data === null) expect(res.body.data).toBeNull();
          else expect(res.body.data).toMatchObject(data);
          // No time was left for a retry.
          expect(s.calls()[`${upstream}:${route}`]).toBe(1);
          report.push({
            fault: `hang, REQUEST_TIMEOUT_MS=${DEADLINE_MS}`,
            operation,
            code: 'UPSTREAM_TIMEOUT',
            calls: describeCalls(routeCalls(s)),
            writes: route === 'users.create' ? String(WRITES.createUser(s)) : '–',
          });
          await expectHealthy(s);
        },
      );
    },
  );
});

describe('Idempotency-Key replay fidelity', () => {
  // KNOWN GATEWAY BUG (left failing on purpose, reported to the lead): the replay rebuilds
  // each error from message, path and extensions only (src/plugins/use-idempotency.ts,
  // fromStored), so `locations` present in the first response is missing from the replay.
  // The documented contract is "the first response replayed".
  it('a replayed failure is the first response as sent, error locations included', async () => {
    await withWarmStack({}, async (s) => {
      // A final failure (only final answers are kept): the gateway's own input check.
      const key = { 'Idempotency-Key': 'replay-fidelity' };
      const invalid = { input: { ...NEW_USER, email: 'not-an-email' } };
      const first = await s.gql(CREATE_USER, invalid, key);
      expect(codes(first)).toEqual(['BAD_USER_INPUT']);
      expect(first.body.errors?.[0]).toHaveProperty('locations');
      const again = await s.gql(CREATE_USER, invalid, key);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
    });
  });
});
