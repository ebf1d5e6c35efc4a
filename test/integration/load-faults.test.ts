import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, startStack } from '../helpers/stack.js';
import { mulberry32 } from '../../simulators/seed.js';
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
 * What the simulators do with a fault (simulators/sim-server.ts, onRequest): the
 * request is counted on arrival, then its body is read, then the first matching fault rule
 * is applied, and only when there is none does the vendor handler run. A `reset` destroys
 * the socket before the handler and an `error` answers instead of it, so a faulted request
 * is never applied. For createUser (POST users.create, then POST commit) that means:
 * - a fault on users.create: nothing was created; the gateway cannot know that from the
 *   wire (the request left, a real upstream may have applied it), so it does not repeat the
 *   POST but looks the userName up, and answers NOT_APPLIED when it is not there; that
 *   answer is not kept under the key, so the client's retry runs the create again;
 * - a fault on commit: the user was created and is staged; the gateway sends the commit
 *   once more (it is idempotent), and if that fails too answers `extensions.staged: true`,
 *   not kept either: the retry meets its own user (409), finds it by userName and commits.
 * - no answer within UPSTREAM_TIMEOUT_MS: a request the simulator was merely slow to handle
 *   (a busy machine) may still be applied after the gateway gave up and looked it up.
 * All are "failed, unknown outcome" to the client; the test settles them from the
 * simulator's state: staged ones exist exactly once, timed-out ones at most once, the
 * others (reset or 500 before the handler) not at all.
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

interface WriteOutcome {
  userName: string;
  /** The id the client was given, when any answer to this write was a success. */
  id: string | undefined;
  /** Every error code any answer to this write carried. */
  codes: Set<string>;
  /** Some answer said the user was saved but its commit failed. */
  staged: boolean;
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

    const random = mulberry32(SEED); // seeded operation mix
    const responses: GraphQLResponse[] = [];
    const writes: WriteOutcome[] = [];
    let retries = 0;
    let doubleClicks = 0;

    async function send(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>) {
      const res = await stack.gql(query, variables, headers);
      responses.push(res);
      return res;
    }

    /** Same key, same request: an answer replayed from the other click is that click's answer. */
    function expectConsistentClicks(a: GraphQLResponse, b: GraphQLResponse): void {
      const replayed = (r: GraphQLResponse) => r.headers['idempotent-replayed'] === 'true';
      for (const [r, other] of [
        [a, b],
        [b, a],
      ] as const) {
        if (!replayed(r)) continue;
        expect(codes(r)).toEqual(codes(other));
        expect(r.body.data).toEqual(other.body.data);
      }
      // Both ran for real only when one answer was not final (nothing applied, or an unknown
      // outcome: an UPSTREAM_* failure): that is not kept, so the waiting click ran the write
      // itself.
      const notFinal = (r: GraphQLResponse) =>
        codes(r).length > 0 && codes(r).every((c) => String(c).startsWith('UPSTREAM_'));
      if (!replayed(a) && !replayed(b)) expect(notFinal(a) || notFinal(b)).toBe(true);
    }

    async function write(i: number, doubleClick: boolean): Promise<void> {
      const userName = `load.user.${i}`;
      const variables = {
        input: { userName, email: `${userName}@example.com`, firstName: 'Load', lastName: `User ${i}` },
      };
      const headers = { 'Idempotency-Key': `load-${i}` };
      const outcome: WriteOutcome = { userName, id: undefined, codes: new Set(), staged: false };
      writes.push(outcome);
      for (let attempt = 0; ; attempt++) {
        let answers: GraphQLResponse[];
        if (doubleClick && attempt === 0) {
          doubleClicks += 1;
          answers = await Promise.all([send(CREATE_USER, variables, headers), send(CREATE_USER, variables, headers)]);
          expectConsistentClicks(answers[0]!, answers[1]!);
        } else {
          answers = [await send(CREATE_USER, variables, headers)];
        }
        for (const res of answers) {
          const created = (res.body.data?.['createUser'] as { id?: string } | null | undefined)?.id;
          if (created !== undefined) outcome.id = created;
          for (const c of codes(res)) outcome.codes.add(String(c));
          if (res.body.errors?.some((e) => e.extensions?.['staged'] === true)) outcome.staged = true;
        }
        if (outcome.id !== undefined) return;
        const retryable = answers.some((r) => codes(r).some((c) => String(c).startsWith('UPSTREAM_')));
        if (attempt >= MAX_CLIENT_RETRIES || !retryable) return;
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
      const exists = byName.get(w.userName)?.length ?? 0;
      const seen = [...w.codes];
      const why = `${w.userName}: ${seen.join()}`;
      expect(seen.length > 0 && seen.every((c) => c.startsWith('UPSTREAM_')), why).toBe(true);
      if (w.staged) expect(exists, why).toBe(1);
      else if (w.codes.has('UPSTREAM_TIMEOUT')) expect(exists, why).toBeLessThanOrEqual(1);
      else expect(exists, why).toBe(0);
    }

    // (3) No doubled write: no userName twice, every new user is one of ours, and the creates
    // the simulator applied are exactly the users that exist now. The simulator's count of
    // users.create requests (applied or faulted) must match what the gateway says it sent,
    // and a create met an existing userName only when retrying its own staged create.
    for (const [name, ids] of byName) expect(ids, name).toHaveLength(1);
    const createdUsers = state.users.length - SEED_USERS;
    expect(writes.filter((w) => byName.has(w.userName)).length).toBe(createdUsers);
    const createAttempts = stack.logs
      .map((line) => JSON.parse(line) as UpstreamCallLog)
      .filter((l) => l.msg === 'upstream call' && l.upstream === 'axis' && l.route === 'users.create');
    const sentCreates = createAttempts.filter((l) => l.local === undefined);
    const answeredApplied = sentCreates.filter((l) => l.status === 200 && l.failure === undefined).length;
    const timedOut = sentCreates.filter((l) => l.failure === 'timeout').length;
    // The simulator saw every create the gateway sent, except ones the gateway gave up on
    // before they arrived (timed out waiting for a connection); never one more.
    const simCreates = stack.axisSim.counts()['users.create'] ?? 0;
    expect(simCreates).toBeLessThanOrEqual(sentCreates.length);
    expect(simCreates).toBeGreaterThanOrEqual(sentCreates.length - timedOut);
    // A 409 only where a retry met its own staged create (settled by lookup, never doubled).
    const stagedWrites = writes.filter((w) => w.staged).length;
    expect(sentCreates.filter((l) => l.status === 409).length).toBeLessThanOrEqual(stagedWrites);
    // Applied = answered 200, plus any the gateway stopped waiting for.
    expect(createdUsers).toBeGreaterThanOrEqual(answeredApplied);
    expect(createdUsers).toBeLessThanOrEqual(answeredApplied + timedOut);
    // One POST per logical write, plus one per client retry or second click at most: a create
    // is sent again only after the gateway found the earlier answer not final (NOT_APPLIED or
    // unknown, not kept under the key).
    expect(sentCreates.length).toBeLessThanOrEqual(writes.length + retries + doubleClicks);

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
            usersCreateAnsweredApplied: answeredApplied,
            usersCreateTimedOut: timedOut,
            usersCreateRefusedLocally: createAttempts.length - sentCreates.length,
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
