import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * A client that goes away stops its request's upstream reads: the real gateway over
 * node:http against the real simulators, which count what they received and which of those
 * calls the gateway closed before the answer (`abandoned()`). Writes already sent finish.
 */

/** Starts a POST /graphql that the test aborts later; the answer (or the abort) is swallowed. */
function startRequest(stack: Stack, query: string, variables?: Record<string, unknown>) {
  const controller = new AbortController();
  const done = request(`${stack.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${ADMIN_KEY}`,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  })
    .then(async (res) => ({ status: res.statusCode, body: await res.body.text() }))
    .catch((err: unknown) => ({ status: 0, body: String(err) }));
  return { abort: () => controller.abort(), done };
}

/** Waits (polling) until `check` holds; for counts with no event to await. Generous: 2 shared cores. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const errorLines = (stack: Stack) => stack.logs.filter((l) => /"level":(50|60)/.test(l));

describe('cancellation: a client that goes away stops its pending upstream reads', () => {
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

  it('20 aborted dashboards: every slow read is closed early, the next level is never sent, nothing is retried, no error is logged', async () => {
    // Each list call takes 5 s; the groups' descriptions would be read after it, one level down.
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'delay', ms: 5_000 } });
    const logsBefore = stack.logs.length;
    const clients = Array.from({ length: 20 }, () =>
      startRequest(stack, '{ users(pageSize: 50) { nodes { id groups { description } } } }'),
    );
    await until(() => stack.axisSim.counts()['users.list'] === 20, 'all 20 list calls to reach Axis');
    for (const client of clients) client.abort();
    await Promise.all(clients.map((c) => c.done));
    await until(() => stack.axisSim.abandoned()['users.list'] === 20, 'Axis to see all 20 list calls closed');

    // A request after them has been fully answered: by then any retry or next-level read of
    // the cancelled requests would have been sent (their backoff is 50-100 ms).
    await sleep(300);
    expect((await stack.gql('{ azureStatus { state } }')).status).toBe(200);
    expect(stack.axisSim.counts()).toMatchObject({ 'users.list': 20, 'groups.get': 0, 'groups.list': 0, total: 20 });
    expect(stack.axisSim.abandoned()).toMatchObject({ 'users.list': 20, total: 20 });
    const lines = stack.logs.slice(logsBefore);
    // One attempt line per cancelled read (Yoga's own debug line about the failed field
    // carries the same error fields, so count the upstream layer's lines only).
    const cancelled = lines.filter((l) => l.includes('"msg":"upstream call"') && l.includes('"local":"cancelled"'));
    expect(cancelled).toHaveLength(20);
    expect(lines.filter((l) => l.includes('retrying upstream call'))).toEqual([]);
    expect(errorLines(stack)).toEqual([]);
    // The circuit does not count a client's leaving against Axis.
    expect(stack.upstreams.circuits().axis).toBe('closed');
  });

  it('a write already sent is not cut short: the group is created although its client left', async () => {
    stack.axisSim.addFault({ route: 'groups.create', action: { type: 'delay', ms: 500 } });
    const client = startRequest(stack, 'mutation ($n: String!) { createGroup(input: { name: $n }) { id } }', {
      n: 'created-after-the-client-left',
    });
    await until(() => stack.axisSim.counts()['groups.create'] === 1, 'the write to reach Axis');
    client.abort();
    await client.done;
    await until(
      () => stack.axisSim.state().groups.some((g) => g.name === 'created-after-the-client-left'),
      'the group to exist',
    );
    expect(stack.axisSim.counts()['groups.create']).toBe(1);
    expect(stack.axisSim.abandoned()['groups.create']).toBe(0);
    expect(errorLines(stack)).toEqual([]);
  });

  it('a client that stays gets its answer as before', async () => {
    stack.axisSim.addFault({ route: 'users.list', action: { type: 'delay', ms: 200 } });
    const res = await stack.gql('{ users(pageSize: 5) { nodes { id } } }');
    expect(res.body.errors).toBeUndefined();
    expect(stack.axisSim.abandoned()['total']).toBe(0);
  });
});
