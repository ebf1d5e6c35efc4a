import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { codes, startStack, withStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  // UPSTREAM_TIMEOUT_MS=1500 per attempt; the whole request may take 2500.
  stack = await startStack({ env: { REQUEST_TIMEOUT_MS: '2500' } });
});
afterAll(() => stack.close());
beforeEach(async () => {
  stack.npmSim.reset();
  stack.axisSim.reset();
  await stack.gql('{ azureStatus { state } }');
  stack.resetCounts();
});

const BOTH = '{ azureStatus { state } users(pageSize: 5) { totalRecords nodes { id } } }';

describe('every row of the error table, through the real gateway', () => {
  it.each([
    ['npm', 400, 'REQUEST_INVALID_INPUT', 'BAD_USER_INPUT'],
    ['npm', 400, 'URI_INVALID_PARAMETER', 'BAD_USER_INPUT'],
    ['npm', 400, 'URI_MISSING_PARAMETER', 'BAD_USER_INPUT'],
    ['npm', 400, 'HTTP_INVALID_HEADER', 'BAD_USER_INPUT'],
    ['axis', 400, 'BadRequest', 'BAD_USER_INPUT'],
    ['npm', 404, 'RESOURCE_NOT_FOUND', 'NOT_FOUND'],
    ['axis', 404, 'NotFound', 'NOT_FOUND'],
    ['axis', 409, 'Conflict', 'CONFLICT'],
    ['npm', 403, 'AUTH_FORBIDDEN', 'UPSTREAM_AUTH_FAILED'],
    ['axis', 401, 'Unauthorized', 'UPSTREAM_AUTH_FAILED'],
    ['axis', 403, 'Forbidden', 'UPSTREAM_AUTH_FAILED'],
    ['npm', 429, undefined, 'UPSTREAM_RATE_LIMITED'],
    ['axis', 429, 'TooManyRequests', 'UPSTREAM_RATE_LIMITED'],
    ['npm', 500, 'INTERNAL_ERROR', 'UPSTREAM_ERROR'],
    ['npm', 405, 'HTTP_INVALID_METHOD', 'UPSTREAM_ERROR'],
    ['axis', 500, 'InternalServerError', 'UPSTREAM_ERROR'],
    ['axis', 502, undefined, 'UPSTREAM_ERROR'],
    ['npm', 503, undefined, 'UPSTREAM_ERROR'],
  ] as const)('%s %i %s -> %s, and the other upstream still answers', async (upstream, status, errorId, code) => {
    const sim = upstream === 'npm' ? stack.npmSim : stack.axisSim;
    sim.addFault({
      route: upstream === 'npm' ? 'status.get' : 'users.list',
      action: { type: 'error', status, ...(errorId ? { errorId } : {}), text: 'simulated' },
    });
    const res = await stack.gql(BOTH);
    expect(res.status).toBe(200);
    expect(codes(res)).toEqual([code]);
    const error = res.body.errors![0]!;
    expect(error.path).toEqual([upstream === 'npm' ? 'azureStatus' : 'users']);
    expect(error.extensions).toMatchObject({
      upstream,
      upstreamStatus: status,
      ...(errorId ? { upstreamErrorId: errorId } : {}),
    });
    if (upstream === 'npm') {
      expect(res.body.data).toMatchObject({ azureStatus: null, users: { totalRecords: 120 } });
    } else {
      expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: null });
    }
  });

  it('errors in a query point at the field: path and locations, through fragments and aliases', async () => {
    stack.npmSim.addFault({ route: 'status.get', action: { type: 'error', status: 500 } });
    const res = await stack.gql(
      'query {\n  users(pageSize: 1) { totalRecords }\n  ...S\n}\nfragment S on Query {\n  st: azureStatus { state }\n}',
    );
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        path: ['st'],
        locations: [{ line: 6, column: 3 }],
        extensions: expect.objectContaining({ code: 'UPSTREAM_ERROR' }),
      }),
    ]);
  });

  it('a connection reset is UPSTREAM_UNAVAILABLE', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'reset' } });
    const res = await stack.gql(BOTH);
    expect(codes(res)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: null });
  });

  it('a hung upstream is retried, then UPSTREAM_TIMEOUT within the request deadline, and the other data arrives', async () => {
    stack.npmSim.addFault({ route: 'status.get', action: { type: 'hang' } });
    const started = Date.now();
    const res = await stack.gql(BOTH);
    expect(Date.now() - started).toBeLessThan(2500 + 700);
    // One full attempt (1500 ms), a backoff, and a second attempt cut short by the deadline.
    expect(stack.calls()['npm:status.get']).toBe(2);
    expect(codes(res)).toEqual(['UPSTREAM_TIMEOUT']);
    expect(res.body.errors?.[0]?.message).toBe('Riverbed NPM did not answer in time.');
    expect(res.body.data).toMatchObject({ azureStatus: null, users: { totalRecords: 120 } });
  });

  it('malformed JSON is UPSTREAM_BAD_RESPONSE', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'malformed' } });
    const res = await stack.gql(BOTH);
    expect(codes(res)).toEqual(['UPSTREAM_BAD_RESPONSE']);
    expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: null });
  });

  it('a body of the wrong shape is UPSTREAM_BAD_RESPONSE, never a silent null', async () => {
    stack.npmSim.addFault({ route: 'status.get', action: { type: 'wrongShape' } });
    stack.axisSim.addFault({ route: 'users.get', action: { type: 'wrongShape' } });
    const res = await stack.gql('{ azureStatus { state } user(id: "u-0001") { id } }');
    expect(codes(res).sort()).toEqual(['UPSTREAM_BAD_RESPONSE', 'UPSTREAM_BAD_RESPONSE']);
  });

  it('an unreachable upstream is UPSTREAM_UNAVAILABLE and the gateway keeps serving', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    await withStack({ env: { AXIS_BASE_URL: `http://127.0.0.1:${port}` } }, async (down) => {
      const res = await down.gql(BOTH);
      expect(codes(res)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(res.body.errors?.[0]?.message).toBe('Axis IdP is unreachable.');
      expect(res.body.data).toMatchObject({ azureStatus: { state: 'SYNC_SUCCEEDED' }, users: null });
      const health = await fetch(`${down.url}/health`);
      expect(health.status).toBe(200);
    });
  });

  it('a mutation failing upstream is the mapped error, and the write is not repeated but looked up', async () => {
    stack.axisSim.addFault({ route: 'users.create', action: { type: 'error', status: 500 } });
    const res = await stack.gql(
      'mutation { createUser(input: { userName: "z", email: "z@example.com", firstName: "Z", lastName: "Z" }) { id } }',
    );
    expect(codes(res)).toEqual(['UPSTREAM_ERROR']);
    expect(res.body.data).toBeNull();
    // A 500 after the POST left is an unknown outcome: the userName is looked up, not created.
    expect(res.body.errors?.[0]?.extensions?.['outcome']).toBe('NOT_APPLIED');
    expect(stack.calls()).toEqual({ 'axis:users.create': 1, 'axis:users.list': 1, 'axis:total': 2 });
  });

  it('a failed auto-commit says the change is staged', async () => {
    stack.axisSim.addFault({ route: 'commit', action: { type: 'error', status: 503 } });
    const res = await stack.gql('mutation { updateGroup(id: "g-001", input: { description: "x" }) { id } }');
    expect(codes(res)).toEqual(['UPSTREAM_ERROR']);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ staged: true, upstream: 'axis', upstreamStatus: 503 });
    expect(res.body.errors?.[0]?.message).toContain('commitAxisChanges');
    expect(stack.axisSim.state().pendingChanges).toBe(1);
  });

  it('error messages hold no URL, token or upstream body', async () => {
    stack.axisSim.addFault({
      route: 'users.list',
      action: { type: 'error', status: 400, text: `bad at ${stack.axisSim.url}/api/v1/users token=${'x'}` },
    });
    const res = await stack.gql(BOTH);
    const text = JSON.stringify(res.body.errors);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain('http://');
  });
});
