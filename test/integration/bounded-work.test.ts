import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startChildGateway } from '../helpers/child-gateway.js';
import type { ChildGateway, ChildStats } from '../helpers/child-gateway.js';
import { ADMIN_KEY, codes, startStack } from '../helpers/stack.js';
import type { GraphQLResponse } from '../helpers/stack.js';

/**
 * Issue 11's attacks, each with its exact document, against the production gateway in its
 * own process and the simulators seeded like real tenants (1000 and 3000 users). Each test
 * counts the Axis calls at the simulator, reads the child's peak RSS and longest event-loop
 * stall, and has a normal caller ask `{ azureStatus { state } }` every 20 ms meanwhile.
 * Bounds are generous (the machine is shared): what they catch is the old behaviour, which
 * was an out-of-memory crash, 2132 Axis calls, or a caller waiting 100 s.
 */

const MB = 1024 * 1024;
/** RSS the child may add for one refused or bounded request (it grew by gigabytes before). */
const RSS_GROWTH_BOUND = 200 * MB;
/** The normal caller's slowest answer while the attack runs (it was 108 s, then no answer). */
const PROBE_BOUND_MS = 2_000;
/**
 * The longest synchronous stretch of the child's own work during the attack (its main
 * thread's CPU time between two turns of the event loop): issue 11's "about 100 ms". The
 * big answers are completed in slices of the event loop (RequestBudget's pacing), so it is
 * tens of milliseconds here.
 */
const LOOP_WORK_BOUND_MS = 100;
/**
 * The same stall in wall time, as a caller feels it (it was 1.5 s to minutes). Generous:
 * on a 2-core machine shared with other test runs (load averages of 8 to 12) a 40 ms slice
 * of work waits for a core several times as long, and even a refused request with no work
 * has been seen at 314 ms.
 */
const LOOP_BOUND_MS = 1_000;

interface Attack {
  res: GraphQLResponse & { ms: number; bytes: number };
  axisCalls: Record<string, number>;
  before: ChildStats;
  after: ChildStats;
  probes: number;
  slowestProbeMs: number;
}

async function attack(gw: ChildGateway, query: string): Promise<Attack> {
  const before = await gw.stats();
  gw.axisSim.resetCounts();
  let done = false;
  let probes = 0;
  let slowestProbeMs = 0;
  const prober = (async () => {
    // Bounded in count and in time: at most 500 probes, and only while the attack runs.
    while (!done && probes < 500) {
      const started = performance.now();
      const res = await request(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ query: '{ azureStatus { state } }' }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const body = (await res.body.json()) as { data?: unknown };
      expect(body.data).toEqual({ azureStatus: { state: 'SYNC_SUCCEEDED' } });
      slowestProbeMs = Math.max(slowestProbeMs, performance.now() - started);
      probes++;
      await sleep(20);
    }
  })();
  const res = await gw.gql(query);
  done = true;
  await prober;
  const counts = gw.axisSim.counts();
  const axisCalls = Object.fromEntries(Object.entries(counts).filter(([route, n]) => route !== 'total' && n > 0));
  return { res, axisCalls, before, after: await gw.stats(), probes, slowestProbeMs };
}

function expectBounded(a: Attack): void {
  // BOUNDED_WORK_FIGURES=1 prints each attack's figures (the issue's before/after table).
  if (process.env['BOUNDED_WORK_FIGURES']) {
    const { res, axisCalls, before, after, probes, slowestProbeMs } = a;
    const code = res.body.errors?.[0]?.extensions?.['code'] ?? res.status;
    console.log(
      JSON.stringify({
        code,
        axisCalls,
        rssGrowthMB: Math.round((after.maxRssBytes - before.maxRssBytes) / MB),
        loopMaxMs: Math.round(after.maxLoopDelayMs),
        loopWorkMs: Math.round(after.maxLoopWorkMs),
        probes,
        slowestProbeMs: Math.round(slowestProbeMs),
        bytes: res.bytes,
      }),
    );
  }
  expect(a.after.maxRssBytes - a.before.maxRssBytes).toBeLessThan(RSS_GROWTH_BOUND);
  expect(a.probes).toBeGreaterThan(0);
  expect(a.slowestProbeMs).toBeLessThan(PROBE_BOUND_MS);
  expect(a.after.maxLoopWorkMs).toBeLessThan(LOOP_WORK_BOUND_MS);
  expect(a.after.maxLoopDelayMs).toBeLessThan(LOOP_BOUND_MS);
}

/** The log lines (pino JSON) that name this response's request id. */
/**
 * The child's log lines of one request that `pick` keeps, once there is one: they come over
 * its stdout pipe, which the test may read after the HTTP answer (a loaded machine).
 */
async function linesOf(
  gw: ChildGateway,
  res: GraphQLResponse,
  pick: (line: Record<string, unknown>) => boolean,
): Promise<Array<Record<string, unknown>>> {
  const id = res.headers['x-request-id'];
  const read = () =>
    gw
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line['requestId'] === id && pick(line));
  await vi.waitFor(() => expect(read().length).toBeGreaterThan(0), { timeout: 5_000, interval: 20 });
  return read();
}

describe('bounded work per request: 1000 users', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startChildGateway({ seedUsers: 1000 });
    // Compile the code paths once, as any gateway that has served for a minute has.
    await gw.gql('{ users(pageSize: 5) { nodes { groups { users { id } } } } }');
  }, 60_000);
  afterAll(() => gw?.close());

  it('users -> groups -> users -> groups -> users (84 bytes; it killed the process) is refused by its cost, with no upstream call', async () => {
    const a = await attack(gw, '{ users(pageSize:1000){ nodes { groups { users { groups { users { id } } } } } } }');
    expect(a.res.status).toBe(400);
    expect(codes(a.res)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(a.res.body.errors?.[0]?.message).toBe(
      "The operation's estimated cost is 16381001, over the limit of 50000 (MAX_OPERATION_COST). Ask for smaller pages or fewer nested lists.",
    );
    expect(a.res.body.data).toBeUndefined();
    expect(a.axisCalls).toEqual({});
    expectBounded(a);
    const refusals = await linesOf(gw, a.res, (l) => l['limit'] === 'MAX_OPERATION_COST');
    expect(refusals).toEqual([
      expect.objectContaining({
        msg: 'request refused',
        reason: 'cost_limit',
        caller: 'attacker',
        cost: 16381001,
        max: 50000,
      }),
    ]);
    expect(gw.alive()).toBe(true);
  }, 120_000);
});

describe('bounded work per request: 120 users (the default seed)', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startChildGateway({ seedUsers: 120 });
    await gw.gql('{ users(pageSize: 5) { nodes { groups { users { id } } } } }');
  }, 60_000);
  afterAll(() => gw?.close());

  it('six aliases of a nested query (they built a 57.7 MB answer) are refused by their cost', async () => {
    const alias = (i: number) =>
      `a${i}: users(pageSize: 1000) { nodes { id groups { id users { id groups { id users { id userName } } } } } }`;
    const query = `{ ${[1, 2, 3, 4, 5, 6].map(alias).join(' ')} }`;
    const a = await attack(gw, query);
    expect(a.res.status).toBe(400);
    expect(codes(a.res)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(a.res.body.errors?.[0]?.message).toMatch(/estimated cost is \d+, over the limit of 50000/);
    expect(a.res.bytes).toBeLessThan(1_000);
    expect(a.axisCalls).toEqual({});
    expectBounded(a);
  }, 120_000);
});

describe('bounded work per request: 3000 users', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startChildGateway({ seedUsers: 3000 });
    // Compile the code paths once, as any gateway that has served for a minute has.
    await gw.gql('{ groups(pageSize: 2) { nodes { users { email } } } }');
    await gw.gql('{ users(pageSize: 5) { nodes { groups { users { email } } } } }');
  }, 60_000);
  afterAll(() => gw?.close());

  it('groups -> users { email } (it made 2132 Axis calls) is served from 4: the groups page and 3 user pages', async () => {
    await gw.gql('{ groups(pageSize: 1000) { nodes { users { email } } } }'); // warm
    const a = await attack(gw, '{ groups(pageSize: 1000) { nodes { users { email } } } }');
    expect(a.res.status).toBe(200);
    expect(a.res.body.errors).toBeUndefined();
    const groups = (a.res.body.data?.['groups'] as { nodes: Array<{ users: Array<{ email: string }> }> }).nodes;
    expect(groups).toHaveLength(12);
    const members = groups.flatMap((g) => g.users);
    expect(members.length).toBeGreaterThan(3000);
    expect(members.every((u) => u.email.endsWith('@example.com'))).toBe(true);
    expect(a.axisCalls).toEqual({ 'groups.list': 1, 'users.list': 3 });
    expectBounded(a);
  }, 120_000);

  it('users -> groups -> users { email } (it stalled the event loop for 25 s) is refused by its cost', async () => {
    const a = await attack(gw, '{ users(pageSize: 1000) { nodes { groups { users { email } } } } }');
    expect(a.res.status).toBe(400);
    expect(codes(a.res)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(a.res.body.errors?.[0]?.message).toContain('estimated cost is 131001, over the limit of 50000');
    expect(a.axisCalls).toEqual({});
    expectBounded(a);
  }, 120_000);

  it('the same at the default page size passes the estimate, and the entity budget stops it', async () => {
    // 100 users x 2 groups x ~500 members: 100 000 entities, estimated at 13 101.
    // Warm, as another caller: the refusal log names a caller's first refusal in an interval.
    await gw.gql('{ users { nodes { groups { users { email } } } } }', { authorization: `Bearer ${ADMIN_KEY}` });
    const a = await attack(gw, '{ users { nodes { groups { users { email } } } } }');
    expect(a.res.status).toBe(400);
    expect(codes(a.res)).toEqual(['REQUEST_BUDGET_EXCEEDED']);
    expect(a.res.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('more than 10000 entities in the answer (MAX_RESPONSE_ENTITIES)'),
      extensions: { code: 'REQUEST_BUDGET_EXCEEDED', limit: 'MAX_RESPONSE_ENTITIES', max: 10000 },
    });
    expect(a.res.body.data).toBeUndefined();
    // The page, the groups list and at most the 3 user pages (the last ones may be cancelled).
    expect(a.axisCalls['users.list'] ?? 0).toBeLessThanOrEqual(4);
    expect(Object.values(a.axisCalls).reduce((n, c) => n + c, 0)).toBeLessThanOrEqual(5);
    expectBounded(a);
    const stopped = await linesOf(gw, a.res, (l) => l['reason'] === 'request_budget');
    expect(stopped).toEqual([
      expect.objectContaining({
        msg: 'request refused',
        caller: 'attacker',
        limit: 'MAX_RESPONSE_ENTITIES',
        max: 10000,
      }),
    ]);
    expect(gw.alive()).toBe(true);
  }, 120_000);
});

describe('bounded work per request: a big answer is completed in slices of the event loop', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    // An operator who raised the entity cap 25-fold: the answer below is 150 000 entities
    // (5.5 MB), which took 150-340 ms of uninterrupted work before it was paced.
    gw = await startChildGateway({ seedUsers: 3000, env: { MAX_RESPONSE_ENTITIES: '250000' } });
    await gw.gql('{ users(pageSize: 5) { nodes { groups { users { email } } } } }');
  }, 60_000);
  afterAll(() => gw?.close());

  it('150 users x 2 groups x ~500 members (150 000 entities) is served, and no stretch of work holds the loop for 100 ms', async () => {
    const query = '{ users(pageSize: 150) { nodes { groups { users { email } } } } }';
    await gw.gql(query); // warm
    const a = await attack(gw, query);
    expect(a.res.status).toBe(200);
    expect(a.res.body.errors).toBeUndefined();
    const users = (a.res.body.data?.['users'] as { nodes: Array<{ groups: Array<{ users: unknown[] }> }> }).nodes;
    expect(users).toHaveLength(150);
    const entities = users.reduce((n, u) => n + u.groups.reduce((m, g) => m + g.users.length, 0), 0);
    expect(entities).toBeGreaterThan(120_000);
    // The page, the groups (one list) and the members (the 3 user pages).
    expect(a.axisCalls).toEqual({ 'users.list': 4, 'groups.list': 1 });
    expectBounded(a);
  }, 120_000);
});

describe('the upstream-call budget', () => {
  it('past MAX_UPSTREAM_CALLS_PER_REQUEST the request stops, sends nothing more and names the limit', async () => {
    const stack = await startStack({ env: { MAX_UPSTREAM_CALLS_PER_REQUEST: '3' } });
    try {
      // Five ids in one batch: below the list shortcut, so five GETs would be needed.
      const ids = ['u-0001', 'u-0002', 'u-0003', 'u-0004', 'u-0005'];
      const query = `{ ${ids.map((id, i) => `u${i}: user(id: "${id}") { email }`).join(' ')} }`;
      stack.resetCounts();
      const res = await stack.gql(query);
      expect(res.status).toBe(400);
      expect(codes(res)).toEqual(['REQUEST_BUDGET_EXCEEDED']);
      expect(res.body.errors?.[0]?.extensions).toMatchObject({ limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST', max: 3 });
      expect(stack.calls()['axis:users.get'] ?? 0).toBeLessThanOrEqual(3);
      // Within the budget, the same lookups are served.
      stack.resetCounts();
      const ok = await stack.gql(
        `{ ${ids
          .slice(0, 3)
          .map((id, i) => `u${i}: user(id: "${id}") { email }`)
          .join(' ')} }`,
      );
      expect(ok.body.errors).toBeUndefined();
      expect(stack.calls()).toEqual({ 'axis:users.get': 3, 'axis:total': 3 });
      const lines = stack.logs.filter((l) => l.includes('"reason":"request_budget"'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        msg: 'request refused',
        requestId: res.headers['x-request-id'],
        caller: 'test-admin',
        limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST',
      });
    } finally {
      await stack.close();
    }
  });
});
