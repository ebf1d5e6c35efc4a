import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFleet } from '../helpers/fleet.js';
import type { Fleet } from '../helpers/fleet.js';
import { codes } from '../helpers/stack.js';
import type { GraphQLResponse } from '../helpers/stack.js';

/**
 * A keyed write whose outcome one replica cannot know, with the Idempotency-Key store in a
 * real redis-server shared by two gateway processes. The create is applied by the IdP and its
 * answer never comes (`applyThenHang`), and the look-up that would settle it fails too, so the
 * first replica answers UPSTREAM_TIMEOUT without NOT_APPLIED: "unknown, retry with the same
 * key". The key must then stay bound to that request without being a final answer: the other
 * replica neither replays it nor runs the key as new (which would meet the first create as a
 * CONFLICT, a failure the client never had), but runs it as a retry of an unknown outcome,
 * which settles from the IdP's state.
 */

const CREATE = 'mutation Create($i: CreateUserInput!) { createUser(input: $i) { id userName } }';
const user = (userName: string) => ({
  i: { userName, email: `${userName}@example.com`, firstName: 'U', lastName: 'Known' },
});
const key = (k: string) => ({ 'idempotency-key': k });

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet({
    replicas: 2,
    // No retries of the settling look-up: one injected failure leaves the outcome unknown. A
    // short request deadline makes a claim abandoned after REQUEST_TIMEOUT_MS + 5 s = 7 s.
    env: { UPSTREAM_TIMEOUT_MS: '800', UPSTREAM_RETRIES: '0', BREAKER_THRESHOLD: '1000', REQUEST_TIMEOUT_MS: '2000' },
  });
}, 120_000);
afterAll(() => fleet?.close());
beforeEach(() => {
  fleet.axisSim.clearFaults();
  fleet.axisSim.resetCounts();
});

const idsOf = (name: string) =>
  fleet.axisSim
    .state()
    .users.filter((u) => u.userName === name)
    .map((u) => u.id);
const creates = () => fleet.axisSim.counts()['users.create'] ?? 0;
const createdId = (res: GraphQLResponse) => (res.body.data?.['createUser'] as { id?: string } | null | undefined)?.id;

/** The create applies and is never answered; the one look-up that would settle it fails. */
function loseTheOutcome(): void {
  fleet.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
  fleet.axisSim.addFault({ route: 'users.list', times: 1, action: { type: 'error', status: 503 } });
}

/** What a client is told when it cannot know: an upstream code, and not "nothing was applied". */
function expectUnknown(res: GraphQLResponse): void {
  expect(codes(res)).toEqual(['UPSTREAM_TIMEOUT']);
  expect(res.body.errors?.[0]?.extensions?.['outcome']).toBeUndefined();
  expect(res.headers['idempotent-replayed']).toBeUndefined();
}

describe('an unknown write outcome, through the Redis idempotency store', () => {
  it('is not kept as a final answer: the retry on the other replica settles it from the IdP (one user), and is then replayed on the first', async () => {
    const [one, two] = fleet.replicas;
    loseTheOutcome();
    const first = await fleet.gql(one!.url, CREATE, user('fleet.unknown'), key('fleet-k-unknown'));
    expectUnknown(first);
    // It did apply: the IdP holds the user the client has not been told about.
    const ids = idsOf('fleet.unknown');
    expect(ids).toHaveLength(1);

    // While the outcome is open the key stays bound to that request, on every replica.
    const other = await fleet.gql(two!.url, CREATE, user('fleet.unknown.other'), key('fleet-k-unknown'));
    expect(other.status).toBe(422);
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(creates()).toBe(1);

    // The retry on the other replica runs (no replay), meets its own create and answers it as created.
    const retry = await fleet.gql(two!.url, CREATE, user('fleet.unknown'), key('fleet-k-unknown'));
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body.errors).toBeUndefined();
    expect(createdId(retry)).toBe(ids[0]);
    expect(creates()).toBe(2);
    expect(idsOf('fleet.unknown')).toEqual(ids);
    expect(
      (await two!.flushedLogs()).some(
        (l) => l.includes('"msg":"write settled by lookup"') && l.includes('"applied":true'),
      ),
    ).toBe(true);

    // Now final: the first replica replays it and sends nothing upstream.
    const replay = await fleet.gql(one!.url, CREATE, user('fleet.unknown'), key('fleet-k-unknown'));
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(retry.body);
    expect(creates()).toBe(2);
    expect(idsOf('fleet.unknown.other')).toEqual([]);
  }, 30_000);

  it('a duplicate waiting on the other replica while the first is in flight wakes when it ends unknown, and answers with the one user created', async () => {
    const [one, two] = fleet.replicas;
    loseTheOutcome();
    const first = fleet.gql(one!.url, CREATE, user('fleet.waiting'), key('fleet-k-waiting'));
    // Counted, not timed: the first replica holds the claim once its create reached the IdP.
    await expect.poll(creates, { timeout: 10_000, interval: 10 }).toBe(1);
    const duplicate = fleet.gql(two!.url, CREATE, user('fleet.waiting'), key('fleet-k-waiting'));
    const [a, b] = await Promise.all([first, duplicate]);

    expectUnknown(a);
    const ids = idsOf('fleet.waiting');
    expect(ids).toHaveLength(1);
    // The duplicate waited for the first (bounded by the claim's running TTL), then ran as the
    // retry of its unknown outcome: the created user, not a CONFLICT with itself.
    expect(b.status).toBe(200);
    expect(b.body.errors).toBeUndefined();
    expect(createdId(b)).toBe(ids[0]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(creates()).toBe(2);

    // A client acting on the first answer (retry, same key) gets that same user, from either replica.
    for (const replica of fleet.replicas) {
      const again = await fleet.gql(replica.url, CREATE, user('fleet.waiting'), key('fleet-k-waiting'));
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(b.body);
    }
    expect(creates()).toBe(2);
    expect(idsOf('fleet.waiting')).toEqual(ids);
  }, 30_000);

  // Last: it leaves the first replica dead.
  it('a replica killed with SIGKILL mid-write leaves an abandoned claim: a client retrying on the other replica (same key) ends with the one user created, never a CONFLICT with itself', async () => {
    const [one, two] = fleet.replicas;
    fleet.axisSim.addFault({ route: 'users.create', times: 1, action: { type: 'applyThenHang' } });
    const first = fleet.gql(one!.url, CREATE, user('fleet.abandoned'), key('fleet-k-abandoned')).then(
      () => 'answered',
      () => 'cut',
    );
    // Counted, not timed: the create has reached the IdP (and applied) when the replica dies.
    await expect.poll(creates, { timeout: 10_000, interval: 10 }).toBe(1);
    await one!.kill('SIGKILL');
    expect(await first).toBe('cut');
    const ids = idsOf('fleet.abandoned');
    expect(ids).toHaveLength(1);

    // A careful client retries an UPSTREAM_* answer with the same key. The claim is still
    // "running" in Redis: the first retry waits for it to lapse (REQUEST_TIMEOUT_MS + 5 s,
    // longer than its own deadline, so that try sends nothing and says so); the next runs as
    // the retry of the unknown outcome and meets its own create.
    const answers: GraphQLResponse[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await fleet.gql(two!.url, CREATE, user('fleet.abandoned'), key('fleet-k-abandoned'));
      answers.push(res);
      if (!codes(res).every((c) => String(c).startsWith('UPSTREAM_')) || codes(res).length === 0) break;
    }
    const retry = answers[answers.length - 1]!;
    expect(answers.slice(0, -1).flatMap((r) => codes(r))).toEqual(answers.slice(0, -1).map(() => 'UPSTREAM_TIMEOUT'));
    expect(retry.status).toBe(200);
    expect(retry.body.errors).toBeUndefined();
    expect(createdId(retry)).toBe(ids[0]);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(creates()).toBe(2);
    expect(idsOf('fleet.abandoned')).toEqual(ids);
    const replay = await fleet.gql(two!.url, CREATE, user('fleet.abandoned'), key('fleet-k-abandoned'));
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(retry.body);
  }, 60_000);
});
