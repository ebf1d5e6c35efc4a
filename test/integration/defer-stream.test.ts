import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toGatewayError } from '../../src/errors.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { postMultipart } from '../helpers/multipart.js';
import type { IncrementalPart } from '../helpers/multipart.js';
import { openSse } from '../helpers/sse.js';
import { ADMIN_KEY, VIEWER_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * `@defer` and `@stream` through the real gateway and simulators, over multipart HTTP
 * (`Accept: multipart/mixed`) and over SSE (`Accept: text/event-stream`). Axis is made slow
 * (or silent) with a simulator fault, so the NPM part must arrive first.
 */

const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const viewer = { authorization: `Bearer ${VIEWER_KEY}` };

/** The dashboard, with the Axis part deferred. */
const DASHBOARD = `query DeferredDashboard {
  azureStatus { state }
  azureAccounts { accId }
  ... @defer(label: "axis") {
    users(pageSize: 50) { totalRecords nodes { id userName groups { name } } }
  }
}`;

const incremental = (parts: IncrementalPart[]) => parts.flatMap((p) => p.incremental ?? []);

describe('@defer and @stream (Axis seeded with 1000 users)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ axis: { seedUsers: 1000, seedGroups: 40 } });
    await stack.gql('{ azureStatus { state } }'); // the NPM login, out of the counts
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.axisSim.reset();
    stack.resetCounts();
  });

  it('multipart: the NPM part arrives while Axis is still answering, then the deferred users', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'delay', ms: 1_000 } });
    const res = await postMultipart(stack.url, DASHBOARD, admin);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^multipart\/mixed/);
    await res.waitFor((p) => p.length >= 1);
    // Axis has the request but has not answered: the first part did not wait for it.
    expect(stack.calls()['axis:users.list']).toBe(1);
    expect(res.parts).toHaveLength(1);
    expect(res.parts[0]).toMatchObject({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } }, hasNext: true });
    expect(res.parts[0]!.data).not.toHaveProperty('users');
    await res.ended;
    const [deferred] = incremental(res.parts);
    expect(deferred).toMatchObject({ label: 'axis', path: [] });
    const users = (deferred!.data as { users: { totalRecords: number; nodes: unknown[] } }).users;
    expect(users.totalRecords).toBe(1000);
    expect(users.nodes).toHaveLength(50);
    expect(res.parts.at(-1)!.hasNext).toBe(false);
    // Same upstream cost as without @defer: one list (group names come with the users).
    expect(stack.calls()).toMatchObject({ 'axis:users.list': 1, 'npm:status.get': 1, 'npm:authCodes.get': 1 });
  });

  it('SSE: the same parts as events, the NPM part first, then complete', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'delay', ms: 1_000 } });
    const sse = await openSse(stack.url, DASHBOARD, { headers: admin });
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toBe('text/event-stream');
    await sse.waitFor((e) => e.length >= 1);
    expect(stack.calls()['axis:users.list']).toBe(1);
    expect(sse.events).toHaveLength(1);
    expect(sse.events[0]!.data).toMatchObject({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } }, hasNext: true });
    await sse.ended;
    expect(sse.events.map((e) => e.event)).toEqual(['next', 'next', 'complete']);
    const second = sse.events[1]!.data as IncrementalPart;
    expect(second.hasNext).toBe(false);
    expect(incremental([second])[0]).toMatchObject({ label: 'axis', data: { users: { totalRecords: 1000 } } });
  });

  it('@stream sends the first items at once and the rest as they are ready, from one upstream list call', async () => {
    const res = await postMultipart(
      stack.url,
      'query { users(pageSize: 1000) { totalRecords nodes @stream(initialCount: 10) { id } } }',
      viewer,
    );
    await res.ended;
    const first = res.parts[0]!.data as { users: { totalRecords: number; nodes: Array<{ id: string }> } };
    expect(first.users.nodes).toHaveLength(10);
    const streamed = incremental(res.parts).flatMap((i) => i.items ?? []) as Array<{ id: string }>;
    expect(first.users.nodes.length + streamed.length).toBe(1000);
    expect(new Set([...first.users.nodes, ...streamed].map((u) => u.id)).size).toBe(1000);
    expect(res.parts.at(-1)!.hasNext).toBe(false);
    expect(stack.calls()).toEqual({ 'axis:users.list': 1, 'axis:total': 1 });
  });

  it('roles apply to deferred fields: a viewer may defer reads, but a mutation with @defer is FORBIDDEN before any upstream call', async () => {
    const read = await postMultipart(stack.url, DASHBOARD, viewer);
    await read.ended;
    expect(read.parts.at(-1)!.hasNext).toBe(false);
    expect(incremental(read.parts)[0]!.data).toMatchObject({ users: { totalRecords: 1000 } });
    stack.resetCounts();
    const write = await postMultipart(
      stack.url,
      'mutation { createGroup(input: { name: "deferred" }) { id ... @defer { users { id } } } }',
      viewer,
    );
    await write.ended;
    expect(write.status).toBe(403);
    expect(write.parts[0]!.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
    const anonymous = await postMultipart(stack.url, DASHBOARD, { authorization: '' });
    await anonymous.ended;
    expect(anonymous.status).toBe(401);
    expect(anonymous.parts[0]!.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
    expect(stack.calls()).toEqual({});
  });

  it('operation limits count deferred fields: a too-deep deferred fragment is refused before any upstream call', async () => {
    const deep = `query { azureStatus { state } ... @defer {
      users(pageSize: 1) { nodes { groups { users { groups { users { groups { users { groups { id } } } } } } } } }
    } }`;
    const res = await postMultipart(stack.url, deep, admin);
    await res.ended;
    expect(res.parts[0]!.errors?.map((e) => e.extensions?.['code'])).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(res.parts[0]!.errors?.[0]?.message).toMatch(/depth/i);
    expect(stack.calls()).toEqual({});
  });
});

describe('@defer when the deferred upstream fails (its own stack: the hang opens the Axis circuit)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('a deferred part that fails carries its UPSTREAM_* error; the first part stands', async () => {
    // Axis never answers: the first part cannot have waited for it.
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'hang' } });
    const res = await postMultipart(stack.url, DASHBOARD, admin);
    await res.waitFor((p) => p.length >= 1);
    expect(res.parts[0]).toMatchObject({
      data: { azureStatus: { state: 'SYNC_SUCCEEDED' }, azureAccounts: expect.any(Array) },
      hasNext: true,
    });
    await res.waitFor((p) => p.at(-1)?.hasNext === false, 10_000);
    const [deferred] = incremental(res.parts);
    expect(deferred!.data).toEqual({ users: null });
    expect(deferred!.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['upstream'], e.path])).toEqual([
      ['UPSTREAM_TIMEOUT', 'axis', ['users']],
    ]);
    // Masked like any error: the gateway's message, not the upstream layer's.
    expect(deferred!.errors?.[0]?.message).toBe(toGatewayError(new UpstreamError('timeout', 'axis')).message);
    expect(stack.logs.filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
