import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack } from '../helpers/stack.js';

/**
 * A bounded load run with random faults on every route of both upstreams, checking what
 * must hold whatever the dice did: no lost write, no doubled write, no 5xx, no unmasked
 * error, and a healthy gateway afterwards.
 *
 * The client behaves like a careful integration: every createUser carries its own
 * Idempotency-Key; a write that fails with an UPSTREAM_* code is sent again with the same
 * key and variables (up to 3 more times); some writes are double-clicked (sent twice at
 * once with the same key).
 *
 * What the simulators do with a fault (src/simulators/sim-server.ts, onRequest): the
 * request is counted on arrival, then its body is read, then the first matching fault rule
 * is applied, and only when there is none does the vendor handler run. A `reset` destroys
 * the socket before the handler and an `error` answers instead of it, so a faulted request
 * is never applied. For createUser (POST users.create, then POST commit) that means:
 * - a fault on users.create: nothing was created; the gateway cannot know that (the
 *   request left, a real upstream may have applied it), so it does not repeat the POST and
 *   keeps the error under the key, and the client's retries get that error replayed;
 * - a fault on commit: the user was created and is staged (`extensions.staged: true`),
 *   also kept under the key and replayed; a later write's commit publishes it.
 * Both are "failed, unknown outcome" to the client; the test settles them from the
 * simulator's state: staged ones exist exactly once, the others do not exist.
 */

const OPERATIONS = 600;
const CONCURRENCY = 16;
const WRITE_SHARE = 0.45;
const DOUBLE_CLICK_SHARE = 0.15;
const MAX_CLIENT_RETRIES = 3;
const FAULT_PROBABILITY = 0.01;
const SEED_USERS = 120;
/** The operation mix is reproducible; the simulators' fault draws are not (Math.random). */
const SEED = 0x5eed;

const BOTH = '{ azureStatus { state } users(pageSize: 5) { totalRecords nodes { id } } }';
const CREATE_USER = 'mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id userName } }';
const QUERIES = [
  BOTH,
  '{ azureAccounts { accId tenantId } }',
  '{ groups(pageSize: 3) { totalRecords nodes { id name } } }',
];

/** mulberry32: a tiny seeded PRNG for the operation mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface WriteOutcome {
  userName: string;
  key: string;
  /** The id the client was given, when the write succeeded. */
  id: string | undefined;
  /** Codes of the final failed answer. */
  codes: string[];
  staged: boolean;
  sends: number;
}

interface UpstreamCallLog {
  msg?: string;
  upstream?: string;
  route?: string;
  status?: number;
  failure?: string;
  local?: string;
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await stack.gql('{ azureStatus { state } }');
  stack.resetCounts();
});
afterAll(() => stack.close());

describe('load with random upstream faults', () => {
  it(`${OPERATIONS} operations at ${CONCURRENCY} concurrent: no lost or doubled write, no 5xx, healthy afterwards`, async () => {
    for (const sim of [stack.npmSim, stack.axisSim]) {
      sim.addFault({ probability: FAULT_PROBABILITY, action: { type: 'reset' } });
      sim.addFault({ probability: FAULT_PROBABILITY, action: { type: 'error', status: 500 } });
    }

    const random = prng(SEED);
    const responses: GraphQLResponse[] = [];
    const writes: WriteOutcome[] = [];
    let retries = 0;
    let doubleClicks = 0;

    async function send(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) {
      const res = await stack.gql(query, variables, headers);
      responses.push(res);
      return res;
    }

    async function write(i: number, doubleClick: boolean): Promise<void> {
      const userName = `load.user.${i}`;
      const key = `load-${i}`;
      const variables = {
        input: { userName, email: `${userName}@example.com`, firstName: 'Load', lastName: `User ${i}` },
      };
      const headers = { 'Idempotency-Key': key };
      const outcome: WriteOutcome = { userName, key, id: undefined, codes: [], staged: false, sends: 0 };
      writes.push(outcome);
      for (let attempt = 0; ; attempt++) {
        let res: GraphQLResponse;
        if (doubleClick && attempt === 0) {
          doubleClicks += 1;
          const [a, b] = await Promise.all([
            send(CREATE_USER, variables, headers),
            send(CREATE_USER, variables, headers),
          ]);
          outcome.sends += 2;
          // Same key, same request: both clicks get the same outcome.
          expect(codes(b)).toEqual(codes(a));
          expect(b.body.data).toEqual(a.body.data);
          res = a;
        } else {
          res = await send(CREATE_USER, variables, headers);
          outcome.sends += 1;
        }
        const failed = codes(res).map(String);
        const created = (res.body.data?.['createUser'] as { id?: string } | null | undefined)?.id;
        if (created !== undefined) {
          outcome.id = created;
          outcome.codes = [];
          return;
        }
        outcome.codes = failed;
        outcome.staged = res.body.errors?.some((e) => e.extensions?.['staged'] === true) ?? false;
        if (attempt >= MAX_CLIENT_RETRIES || !failed.some((c) => c.startsWith('UPSTREAM_'))) return;
        retries += 1;
      }
    }

    const plan = Array.from({ length: OPERATIONS }, (_, i) => {
      const isWrite = random() < WRITE_SHARE;
      const doubleClick = random() < DOUBLE_CLICK_SHARE;
      const query = QUERIES[Math.floor(random() * QUERIES.length)]!;
      const oneUser = random() < 0.25;
      const userId = `u-${String(1 + Math.floor(random() * SEED_USERS)).padStart(4, '0')}`;
      return async () => {
        if (isWrite) await write(i, doubleClick);
        else if (oneUser) await send(`{ user(id: "${userId}") { id userName groups { name } } }`);
        else await send(query);
      };
    });

    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < plan.length) await plan[next++]!();
      }),
    );
    const elapsedMs = Date.now() - started;
    stack.npmSim.clearFaults();
    stack.axisSim.clearFaults();

    // (1) Healthy: alive, and a clean query gets both upstreams' data.
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
    const after = await stack.gql(BOTH);
    expect(after.body.errors).toBeUndefined();
    expect(after.body.data).toMatchObject({ azureStatus: { state: expect.any(String) } });

    const state = stack.axisSim.state();
    const byName = new Map<string, string[]>();
    for (const u of state.users) byName.set(u.userName, [...(byName.get(u.userName) ?? []), u.id]);

    // (2) No lost write: every success the client saw exists exactly once, with the id it was given.
    const succeeded = writes.filter((w) => w.id !== undefined);
    for (const w of succeeded) expect(byName.get(w.userName), w.userName).toEqual([w.id]);
    // Unknown outcomes, settled by the simulator (see the comment at the top).
    const unknown = writes.filter((w) => w.id === undefined);
    for (const w of unknown) {
      expect(
        w.codes.every((c) => c.startsWith('UPSTREAM_')),
        `${w.userName}: ${w.codes.join()}`,
      ).toBe(true);
      expect(byName.get(w.userName)?.length ?? 0, w.userName).toBe(w.staged ? 1 : 0);
    }

    // (3) No doubled write: no userName twice, and the creates the simulator applied are
    // exactly the users that exist now. The simulator's count of users.create requests
    // (applied or faulted) must match what the gateway says it sent, and no create may have
    // met an existing userName (a 409 would be a create sent a second time).
    for (const [name, ids] of byName) expect(ids, name).toHaveLength(1);
    const createdUsers = state.users.length - SEED_USERS;
    const createAttempts = stack.logs
      .map((line) => JSON.parse(line) as UpstreamCallLog)
      .filter((l) => l.msg === 'upstream call' && l.upstream === 'axis' && l.route === 'users.create');
    const sentCreates = createAttempts.filter((l) => l.local === undefined);
    const appliedCreates = sentCreates.filter((l) => l.status === 200).length;
    expect(stack.axisSim.counts()['users.create']).toBe(sentCreates.length);
    expect(sentCreates.filter((l) => l.status === 409)).toEqual([]);
    expect(appliedCreates).toBe(createdUsers);
    expect(createdUsers).toBe(succeeded.length + unknown.filter((w) => w.staged).length);
    // At most one POST per logical write, however many times the client sent it.
    expect(sentCreates.length).toBeLessThanOrEqual(writes.length);

    // (4) No 5xx and nothing unmasked; the same key was never refused for "other content".
    const allCodes = responses.flatMap((r) => codes(r).map(String));
    expect(responses.filter((r) => r.status >= 500).map((r) => r.status)).toEqual([]);
    expect(allCodes).not.toContain('INTERNAL_SERVER_ERROR');
    expect(allCodes).not.toContain('IDEMPOTENCY_KEY_REUSED');
    expect(allCodes.every((c) => c.startsWith('UPSTREAM_'))).toBe(true);

    // (5) The numbers, once.
    const errorsByCode: Record<string, number> = {};
    for (const c of allCodes) errorsByCode[c] = (errorsByCode[c] ?? 0) + 1;
    const upstreamFailures: Record<string, number> = {};
    for (const l of stack.logs.map((line) => JSON.parse(line) as UpstreamCallLog)) {
      if (l.msg !== 'upstream call' || (l.failure === undefined && (l.status ?? 0) < 400)) continue;
      const what = `${l.upstream}:${l.route} ${l.local ?? l.status ?? l.failure}`;
      upstreamFailures[what] = (upstreamFailures[what] ?? 0) + 1;
    }
    console.log(
      `Load with faults (p=${FAULT_PROBABILITY} reset + p=${FAULT_PROBABILITY} 500 per upstream request)\n` +
        JSON.stringify(
          {
            seed: SEED,
            elapsedMs,
            operations: OPERATIONS,
            concurrency: CONCURRENCY,
            httpRequests: responses.length,
            queries: OPERATIONS - writes.length,
            writes: writes.length,
            doubleClicks,
            clientRetries: retries,
            replays: responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length,
            writesSucceeded: succeeded.length,
            writesFailedUnknownOutcome: unknown.length,
            unknownOutcomeApplied: unknown.filter((w) => (byName.get(w.userName)?.length ?? 0) > 0).length,
            usersCreated: createdUsers,
            usersCreateRequests: stack.axisSim.counts()['users.create'],
            usersCreateApplied: appliedCreates,
            pendingAxisChanges: state.pendingChanges,
            errorsByCode,
            upstreamFailuresSeenByGateway: upstreamFailures,
            upstreamRequestsByRoute: stack.calls(),
          },
          null,
          2,
        ),
    );
  });
});
