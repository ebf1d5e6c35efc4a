import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-sse';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_PATH } from '../../scripts/persisted-operations.js';
import { persistedOperationId } from '../../src/persisted-operations.js';
import { NPM_INVALID_APP_PASSWD } from '../../simulators/npm-sim.js';
import { openSse } from '../helpers/sse.js';
import type { SseEvent, SseStream } from '../helpers/sse.js';
import { ADMIN_KEY, VIEWER_KEY, startProductionGateway, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * `subscription { azureStatus }` over GraphQL over SSE, through the real gateway and the real
 * NPM simulator (whose sync runs for `syncDurationMs`, then succeeds or fails). Upstream
 * traffic is counted at the simulator.
 */

const STATUS = 'subscription { azureStatus { enabled state errorId errorText lastSyncAt lastSuccessAt } }';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const viewer = { authorization: `Bearer ${VIEWER_KEY}` };

type CloudStatusJson = { state: string; errorId: number | null; errorText: string | null; lastSuccessAt: string };

const nexts = (events: SseEvent[]) => events.filter((e) => e.event === 'next');
const statuses = (events: SseEvent[]) =>
  nexts(events).map((e) => (e.data?.data?.['azureStatus'] ?? null) as CloudStatusJson | null);
const states = (events: SseEvent[]) => statuses(events).map((s) => s?.state ?? 'error');

/** No event repeats the one before it (the feed pushes changes only). */
function expectNoRepeats(events: SseEvent[]): void {
  const list = nexts(events).map((e) => JSON.stringify(e.data));
  for (let i = 1; i < list.length; i++) expect(list[i], `event ${i} repeats event ${i - 1}`).not.toBe(list[i - 1]);
}

const open: SseStream[] = [];
async function subscribe(stack: { url: string }, headers = admin, method: 'GET' | 'POST' = 'POST', query = STATUS) {
  const stream = await openSse(stack.url, query, { method, headers });
  open.push(stream);
  return stream;
}

/** Waits (polling) until `check` holds; for conditions with no event to await. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function closeAll(stack?: Stack): Promise<void> {
  for (const s of open.splice(0)) s.close();
  if (stack) await until(() => stack.azureStatusFeed.subscribers === 0, 'every subscriber to leave');
}

describe('azureStatus subscription (poll every 50 ms)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Syncs last 300 ms, long enough for SYNC_INITIALIZING to be seen between polls.
    stack = await startStack({ env: { AZURE_STATUS_POLL_MS: '50' }, npm: { syncDurationMs: 300 } });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.npmSim.reset();
  });
  afterEach(() => closeAll(stack));

  it('starts with the current status, then follows a sync to SYNC_SUCCEEDED without repeating itself', async () => {
    const current = await stack.gql('{ azureStatus { enabled state errorId errorText lastSyncAt lastSuccessAt } }');
    const sub = await subscribe(stack);
    expect(sub.status).toBe(200);
    expect(sub.headers['content-type']).toBe('text/event-stream');
    await sub.waitFor((e) => e.length === 1);
    expect(sub.events[0]!.data).toEqual({ data: current.body.data });

    const sync = await stack.gql('mutation { syncAzureAccounts { state } }');
    expect(sync.body.data).toEqual({ syncAzureAccounts: { state: 'SYNC_INITIALIZING' } });
    await sub.waitFor((e) => states(e).at(-1) === 'SYNC_SUCCEEDED' && e.length >= 3);
    expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING', 'SYNC_SUCCEEDED']);
    const [before, , after] = statuses(sub.events);
    expect(Date.parse(after!.lastSuccessAt)).toBeGreaterThan(Date.parse(before!.lastSuccessAt));
    expectNoRepeats(sub.events);
  });

  it('follows a sync that fails to SYNC_FAILED with the appliance error', async () => {
    const sub = await subscribe(stack);
    await sub.waitFor((e) => e.length === 1);
    const upsert = await stack.gql(
      `mutation { upsertAzureAccounts(accounts: [{ accId: "broken", tenantId: "t", subscriptionId: "s", appId: "a", appPassword: "${NPM_INVALID_APP_PASSWD}" }]) { accId } }`,
    );
    expect(upsert.body.errors).toBeUndefined();
    await stack.gql('mutation { syncAzureAccounts { state } }');
    await sub.waitFor((e) => states(e).at(-1) === 'SYNC_FAILED');
    expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING', 'SYNC_FAILED']);
    expect(statuses(sub.events).at(-1)).toMatchObject({ errorId: 1001, errorText: expect.stringContaining('broken') });
    expectNoRepeats(sub.events);
  });

  it('works over GET too (the CSRF check is met by Authorization), and idle streams get keep-alive pings', async () => {
    const sub = await subscribe(stack, admin, 'GET');
    expect(sub.status).toBe(200);
    await sub.waitFor((e) => e.length === 1);
    expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED']);
    // Yoga writes `:` at once and every 12 s (300 ms under NODE_ENV=test); nothing else is sent while nothing changes.
    const pings = sub.pings;
    await until(() => sub.pings > pings, 'a keep-alive ping');
    expect(sub.events).toHaveLength(1);
  });

  it('a failing upstream gives one error event per error code, keeps the stream open, and recovers', async () => {
    const sub = await subscribe(stack);
    await sub.waitFor((e) => e.length === 1);
    stack.resetCounts();
    // Three failed polls in a row (500 is not retried, and three stay under the breaker threshold of five).
    stack.npmSim.addFault({
      route: 'status.get',
      times: 3,
      action: { type: 'error', status: 500, errorId: 'INTERNAL_ERROR', text: 'upstream-body-must-not-leak' },
    });
    await sub.waitFor((e) => e.length === 3);
    expect(stack.calls()['npm:status.get']).toBeGreaterThanOrEqual(4);
    const [, failed, recovered] = sub.events;
    expect(failed!.data!.data).toBeNull();
    expect(failed!.data!.errors).toHaveLength(1);
    expect(failed!.data!.errors![0]).toMatchObject({
      path: ['azureStatus'],
      extensions: { code: 'UPSTREAM_ERROR', upstream: 'npm', upstreamStatus: 500, upstreamErrorId: 'INTERNAL_ERROR' },
    });
    expect(JSON.stringify(failed)).not.toContain('upstream-body-must-not-leak');
    expect(states([recovered!])).toEqual(['SYNC_SUCCEEDED']);
    // Operators see the error event on /metrics, under its code.
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_graphql_errors_total\{code="UPSTREAM_ERROR",operation_type="subscription"\} 1$/m);
    // Still open: no `complete`, and the next change still arrives.
    await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { state } }');
    await sub.waitFor((e) => states(e).at(-1) === 'SYNC_DISABLED');
    expect(sub.events.some((e) => e.event === 'complete')).toBe(false);

    // When the client leaves, the operation log has one line for the whole subscription.
    const requestId = sub.headers['x-request-id'];
    sub.close();
    const ended = () =>
      stack.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['msg'] === 'graphql subscription ended' && l['requestId'] === requestId);
    await until(() => ended() !== undefined, 'the subscription log line');
    expect(ended()).toMatchObject({ operationType: 'subscription', events: 4, errorCodes: ['UPSTREAM_ERROR'] });
  });

  it('the README example runs as written', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /<!-- subscription example -->\s*```graphql\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const sub = await subscribe(stack, viewer, 'POST', example!);
    await sub.waitFor((e) => e.length === 1);
    expect(sub.events[0]!.data!.errors).toBeUndefined();
    expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED']);
  });
});

describe('who may subscribe', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { AZURE_STATUS_POLL_MS: '50' } });
  });
  afterAll(() => stack.close());
  afterEach(() => closeAll(stack));

  it.each([
    ['no credential', {}],
    ['an unknown key', { authorization: 'Bearer not-a-key-of-this-gateway-0000000000' }],
  ])('%s: 401 UNAUTHENTICATED on the SSE response, and no upstream call', async (_name, headers) => {
    stack.resetCounts();
    const sub = await subscribe(stack, headers as typeof admin);
    await sub.ended;
    expect(sub.status).toBe(401);
    expect(sub.headers['www-authenticate']).toBe('Bearer');
    expect(nexts(sub.events).map((e) => e.data!.errors?.[0]?.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
    expect(stack.calls()).toEqual({});
  });

  it('an unknown key over GET is 401 too', async () => {
    const sub = await subscribe(stack, { authorization: 'Bearer not-a-key-of-this-gateway-0000000000' }, 'GET');
    await sub.ended;
    expect(sub.status).toBe(401);
  });

  it('operation limits apply: an over-limit subscription is refused before any upstream call', async () => {
    stack.resetCounts();
    const aliases = Array.from({ length: 16 }, (_, i) => `s${i}: state`).join(' ');
    const sub = await subscribe(stack, viewer, 'POST', `subscription { azureStatus { ${aliases} } }`);
    await sub.ended;
    expect(nexts(sub.events).map((e) => e.data!.errors?.[0]?.extensions?.['code'])).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    expect(stack.calls()).toEqual({});
  });

  it('a viewer may subscribe (graphql-sse client, distinct connections mode)', async () => {
    const client = createClient({ url: `${stack.url}/graphql`, headers: viewer, retryAttempts: 0 });
    try {
      const iterator = client.iterate<{ azureStatus: { state: string } }>({
        query: 'subscription { azureStatus { state } }',
      });
      const first = await iterator.next();
      expect(first.value).toEqual({ data: { azureStatus: { state: 'SYNC_SUCCEEDED' } } });
      await iterator.return?.();
    } finally {
      client.dispose();
    }
    await until(() => stack.azureStatusFeed.subscribers === 0, 'the client to leave');
  });
});

describe('a write nudges the poller (poll interval 60 s)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // 100 subscribers from one key: above the default per-caller cap (limits are tested in connections.test.ts).
    stack = await startStack({ env: { AZURE_STATUS_POLL_MS: '60000', MAX_SUBSCRIPTIONS_PER_CALLER: '200' } });
  });
  afterAll(() => stack.close());
  afterEach(() => closeAll(stack));

  it('setAzureSyncEnabled reaches subscribers at once, not at the next tick a minute later', async () => {
    const sub = await subscribe(stack);
    await sub.waitFor((e) => e.length === 1);
    await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { state } }');
    await sub.waitFor((e) => e.length === 2);
    await stack.gql('mutation { setAzureSyncEnabled(enabled: true) { state } }');
    await sub.waitFor((e) => e.length === 3);
    expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED', 'SYNC_DISABLED', 'SYNC_NA']);
  });

  it('100 subscribers joining an idle feed together cost one GET /status; a late joiner none', async () => {
    await stack.gql('{ azureStatus { state } }'); // the NPM login, out of the count
    stack.resetCounts();
    const subs = await Promise.all(Array.from({ length: 100 }, () => subscribe(stack, viewer)));
    await Promise.all(subs.map((s) => s.waitFor((e) => e.length === 1)));
    expect(stack.azureStatusFeed.subscribers).toBe(100);
    expect(stack.calls()).toEqual({ 'npm:status.get': 1, 'npm:total': 1 });
    const late = await subscribe(stack, viewer);
    await late.waitFor((e) => e.length === 1);
    expect(stack.calls()['npm:status.get']).toBe(1);
    expect(late.events[0]!.data).toEqual(subs[0]!.events[0]!.data);
    // Operators see them on /metrics.
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_azure_status_subscribers 101$/m);
  });
});

describe('upstream traffic does not grow with subscribers (poll every 100 ms)', () => {
  const POLL_MS = 100;
  const WINDOW_MS = 20 * POLL_MS;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { AZURE_STATUS_POLL_MS: String(POLL_MS), MAX_SUBSCRIPTIONS_PER_CALLER: '200' } });
    await stack.gql('{ azureStatus { state } }'); // the NPM login, out of the count
  });
  afterAll(() => stack.close());
  afterEach(() => closeAll(stack));

  /** GET /status calls during WINDOW_MS with `n` subscribers open (counted after all got their first event). */
  async function pollsWith(n: number): Promise<number> {
    const subs = await Promise.all(Array.from({ length: n }, () => subscribe(stack, viewer)));
    await Promise.all(subs.map((s) => s.waitFor((e) => e.length === 1)));
    stack.resetCounts();
    await sleep(WINDOW_MS);
    const count = stack.calls()['npm:status.get'] ?? 0;
    await closeAll(stack);
    return count;
  }

  it('1 and 100 subscribers make the same GET /status calls, and none once all have left', async () => {
    const one = await pollsWith(1);
    const hundred = await pollsWith(100);
    // Whatever poll was in flight when the last one left finishes; after that, silence.
    await sleep(2 * POLL_MS);
    stack.resetCounts();
    await sleep(5 * POLL_MS);
    const idle = stack.calls()['npm:status.get'] ?? 0;
    console.log(
      `GET /status over ${WINDOW_MS} ms at AZURE_STATUS_POLL_MS=${POLL_MS}: 1 subscriber ${one}, 100 subscribers ${hundred}; after all left (${5 * POLL_MS} ms): ${idle}`,
    );
    expect(one).toBeGreaterThanOrEqual(WINDOW_MS / POLL_MS / 2); // it really polled
    // At most one call per interval, whatever the number of subscribers: 100 subscribers
    // polling on their own would make ~100 times as many. (How many polls a window holds
    // depends on how busy the machine is, so the two counts are not compared with each
    // other: a loaded CI core makes either window shorter of ticks, never longer.)
    expect(Math.max(one, hundred)).toBeLessThanOrEqual(WINDOW_MS / POLL_MS + 1);
    expect(hundred).toBeGreaterThanOrEqual(WINDOW_MS / POLL_MS / 2); // it kept polling for 100
    expect(idle).toBe(0);
  });
});

describe('shutdown', () => {
  it('closing the gateway completes open subscription streams instead of waiting out the grace period', async () => {
    const { npmSim, gateway, logs, stopSimulators } = await startProductionGateway({ AZURE_STATUS_POLL_MS: '100' });
    try {
      const subs = [await subscribe(gateway, admin, 'POST'), await subscribe(gateway, admin, 'GET')];
      await Promise.all(subs.map((s) => s.waitFor((e) => e.length === 1)));
      npmSim.resetCounts();
      // A grace period far beyond the test's timeout: only completed streams let close() return in time.
      await gateway.close(60_000);
      await Promise.all(subs.map((s) => s.ended));
      for (const s of subs) expect(s.events.map((e) => e.event)).toEqual(['next', 'complete']);
      expect(logs.join('\n')).not.toContain('did not finish in time');
      const polls = npmSim.counts()['status.get'];
      await sleep(300);
      expect(npmSim.counts()['status.get']).toBe(polls);
    } finally {
      for (const s of open.splice(0)) s.close();
      await stopSimulators();
    }
  });
});

describe('with PERSISTED_OPERATIONS_ONLY=true', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { PERSISTED_OPERATIONS_FILE: MANIFEST_PATH, PERSISTED_OPERATIONS_ONLY: 'true' },
    });
  });
  afterAll(() => stack.close());
  afterEach(() => closeAll(stack));

  it('a frontend subscribes by documentId (the shipped manifest has SyncStatus); document text is refused', async () => {
    const document = readFileSync(new URL('../../operations/SyncStatus.graphql', import.meta.url), 'utf8').trim();
    const byId = await openSse(stack.url, '', {
      headers: viewer,
      documentId: `sha256:${persistedOperationId(document)}`,
    });
    open.push(byId);
    await byId.waitFor((e) => e.length === 1);
    expect(byId.status).toBe(200);
    expect(states(byId.events)).toEqual(['SYNC_SUCCEEDED']);

    const byText = await subscribe(stack, viewer, 'POST', document);
    await byText.waitFor((e) => e.length >= 1);
    expect(byText.events[0]!.data?.errors?.[0]?.extensions?.['code']).toBe('PERSISTED_OPERATION_REQUIRED');
  });
});
