import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayError, runIntegration } from '../../examples/typed-client/integration.js';
import { ADMIN_KEY, VIEWER_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The typed client example (examples/typed-client) is what service teams copy: its headers,
 * clean-up and error reporting are checked here against the real gateway and simulators.
 * CI also runs it as a program against `npm run demo`.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());
afterEach(() => vi.restoreAllMocks());

/** The headers of every request graphql-request sends, by operation name. */
function recordRequests() {
  const sent: Array<{ operationName: string; headers: Headers }> = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    const body = JSON.parse(String(init?.body)) as { operationName?: string };
    sent.push({ operationName: body.operationName ?? '', headers: new Headers(init?.headers) });
    return realFetch(input, init);
  });
  return sent;
}

describe('typed client example', () => {
  it('reads the dashboard, creates and deletes a user, and leaves the directory as it was', async () => {
    const usersBefore = stack.axisSim.state().users.length;
    const sent = recordRequests();
    stack.resetCounts();

    const summary = await runIntegration({ url: `${stack.url}/graphql`, apiKey: ADMIN_KEY, userName: 'typed.client' });

    expect(summary.totalUsers).toBe(usersBefore);
    expect(summary.azure?.state).toBe('SYNC_SUCCEEDED');
    expect(summary.firstUsers).toHaveLength(5);
    expect(summary.roundTrip).toMatchObject({ userName: 'typed.client', deleted: true });
    expect(stack.axisSim.state().users.length).toBe(usersBefore);
    expect(stack.calls()).toMatchObject({ 'axis:users.create': 1, 'axis:users.delete': 1 });

    expect(sent.map((s) => s.operationName)).toEqual(['Dashboard', 'CreateUser', 'DeleteUser']);
    for (const { headers } of sent) expect(headers.get('x-request-id')).toMatch(/^typed-client-[0-9a-f-]{36}$/);
    const keys = sent.map((s) => s.headers.get('idempotency-key'));
    expect(keys[0]).toBeNull();
    expect(keys[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[2]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[2]);
    // The gateway logged the requests under the ids the client sent.
    expect(stack.logs.some((l) => l.includes(sent[1]!.headers.get('x-request-id')!))).toBe(true);
  });

  it("turns the gateway's refusal into a GatewayError with its code and request id, creating nothing", async () => {
    stack.resetCounts();
    const err = await runIntegration({ url: `${stack.url}/graphql`, apiKey: VIEWER_KEY }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(GatewayError);
    const refused = err as GatewayError;
    expect(refused.operation).toBe('CreateUser');
    expect(refused.codes).toEqual(['FORBIDDEN']);
    expect(refused.httpStatus).toBe(403);
    expect(refused.requestId).toMatch(/^typed-client-/);
    expect(refused.message).toContain('FORBIDDEN');
    expect(refused.message).toContain(refused.requestId);
    expect(stack.calls()['axis:users.create']).toBeUndefined();
  });
});
