import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../simulators/seed.js';
import { codes, startStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack } from '../helpers/stack.js';

/**
 * Every write settles. 200 createUser, each with its own Idempotency-Key, against an IdP
 * tenant of 1000 users whose users.create route fails often: 8% reset, 8% 500, 3% hang
 * (never applied), 5% applied and then never answered; and whose commit fails too (8% 500,
 * 3% reset). A careful client retries an UPSTREAM_* answer with the same key and variables,
 * a bounded number of times. At the end every key has a definite answer, checked against
 * the simulator's state: created (exactly once, with the id the client was given) or
 * NOT_APPLIED (and not there). None lost, none doubled, none unresolved.
 */

const WRITES = 200;
const CONCURRENCY = 16;
const MAX_ATTEMPTS = 6;
const SEED_USERS = 1000;
const SEED = 0x5e771e;

const CREATE_USER = 'mutation CreateUser($input: CreateUserInput!) { createUser(input: $input) { id userName } }';

/** `probability` of a rule applies to requests the earlier rules spared: this many of all requests. */
function faultsOfShares(shares: Array<{ share: number; action: object }>) {
  let left = 1;
  return shares.map(({ share, action }) => {
    const probability = share / left;
    left -= share;
    return { probability, action };
  });
}

interface Outcome {
  userName: string;
  attempts: number;
  /** The last answer: the id it was created with, NOT_APPLIED, or the unsettled code. */
  id?: string;
  final: 'created' | 'not_applied' | 'unresolved';
  codes: string[];
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    axis: { seedUsers: SEED_USERS, random: mulberry32(SEED) },
    env: { UPSTREAM_TIMEOUT_MS: '600', BREAKER_THRESHOLD: '1000', RATE_LIMIT_RPS: '0' },
  });
  await stack.gql('{ azureStatus { state } }');
});
afterAll(() => stack.close());

describe('every write settles', () => {
  it(`${WRITES} createUser under users.create and commit faults: every key answered, 0 lost, 0 doubled, 0 unresolved`, async () => {
    for (const rule of faultsOfShares([
      { share: 0.08, action: { type: 'reset' } },
      { share: 0.08, action: { type: 'error', status: 500 } },
      { share: 0.03, action: { type: 'hang' } },
      { share: 0.05, action: { type: 'applyThenHang' } },
    ]))
      stack.axisSim.addFault({ route: 'users.create', ...rule } as Parameters<Stack['axisSim']['addFault']>[0]);
    for (const rule of faultsOfShares([
      { share: 0.08, action: { type: 'error', status: 500 } },
      { share: 0.03, action: { type: 'reset' } },
    ]))
      stack.axisSim.addFault({ route: 'commit', ...rule } as Parameters<Stack['axisSim']['addFault']>[0]);
    stack.resetCounts();

    const outcomes: Outcome[] = [];
    const responses: GraphQLResponse[] = [];
    async function write(i: number): Promise<void> {
      const userName = `settle.user.${i}`;
      const variables = {
        input: { userName, email: `${userName}@example.com`, firstName: 'Settle', lastName: `User ${i}` },
      };
      const outcome: Outcome = { userName, attempts: 0, final: 'unresolved', codes: [] };
      outcomes.push(outcome);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        outcome.attempts += 1;
        const res = await stack.gql(CREATE_USER, variables, { 'Idempotency-Key': `settle-${i}` });
        responses.push(res);
        const created = (res.body.data?.['createUser'] as { id?: string } | null | undefined)?.id;
        const seen = codes(res).map(String);
        outcome.codes.push(...seen);
        if (created !== undefined) {
          outcome.id = created;
          outcome.final = 'created';
          return;
        }
        const notApplied = res.body.errors?.every((e) => e.extensions?.['outcome'] === 'NOT_APPLIED') === true;
        outcome.final = notApplied ? 'not_applied' : 'unresolved';
        // Only upstream trouble is worth another try; anything else is the answer.
        if (!seen.every((c) => c.startsWith('UPSTREAM_'))) return;
      }
    }

    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < WRITES) await write(next++);
      }),
    );
    stack.axisSim.clearFaults();
    // Anything left staged is published, so the state below is what the tenant holds.
    await stack.gql('mutation { commitAxisChanges }');

    const state = stack.axisSim.state();
    const byName = new Map<string, string[]>();
    for (const u of state.users) byName.set(u.userName, [...(byName.get(u.userName) ?? []), u.id]);

    const acknowledged = outcomes.filter((o) => o.final === 'created');
    const refused = outcomes.filter((o) => o.final === 'not_applied');
    const unresolved = outcomes.filter((o) => o.final === 'unresolved');
    const lost = acknowledged.filter((o) => (byName.get(o.userName) ?? []).join() !== o.id);
    const doubled = [...byName].filter(([, ids]) => ids.length > 1);
    const refusedButThere = refused.filter((o) => byName.has(o.userName));
    const settleLines = stack.logs.filter((l) => l.includes('"msg":"write settled by lookup"'));
    const createSettles = settleLines.filter((l) => l.includes('"route":"users.create"'));
    const report = {
      writes: WRITES,
      seedUsers: SEED_USERS,
      httpRequests: responses.length,
      acknowledged: acknowledged.length,
      settledByLookupCreated: createSettles.filter((l) => l.includes('"applied":true')).length,
      settledByLookupNotCreated: createSettles.filter((l) => l.includes('"applied":false')).length,
      refused: refused.length,
      lost: lost.length,
      doubled: doubled.length,
      unresolved: unresolved.length,
      usersCreateRequests: stack.axisSim.counts()['users.create'],
      commitRequests: stack.axisSim.counts()['commit'],
      replays: responses.filter((r) => r.headers['idempotent-replayed'] === 'true').length,
      errorCodes: responses
        .flatMap((r) => codes(r).map(String))
        .reduce<Record<string, number>>((acc, c) => {
          acc[c] = (acc[c] ?? 0) + 1;
          return acc;
        }, {}),
    };
    console.log(`Write settlement under faults\n${JSON.stringify(report, null, 2)}`);

    expect(unresolved.map((o) => `${o.userName}: ${o.codes.join()}`)).toEqual([]);
    expect(lost.map((o) => o.userName)).toEqual([]);
    expect(doubled).toEqual([]);
    expect(refusedButThere.map((o) => o.userName)).toEqual([]);
    // The tenant holds exactly the acknowledged users beyond its seed.
    expect(state.users.length - SEED_USERS).toBe(acknowledged.length);
    expect(acknowledged.length + refused.length).toBe(WRITES);
    // The faults really happened, and some creates were settled by looking them up.
    expect(report.settledByLookupCreated).toBeGreaterThan(0);
    expect(responses.filter((r) => r.status >= 500)).toEqual([]);
    expect(report.errorCodes['IDEMPOTENCY_KEY_REUSED']).toBeUndefined();
    expect(report.errorCodes['CONFLICT']).toBeUndefined();
  });
});
