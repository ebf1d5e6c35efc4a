import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFleet } from '../helpers/fleet.js';
import type { Fleet } from '../helpers/fleet.js';
import { codes } from '../helpers/stack.js';

/**
 * Two gateway processes sharing one redis-server, behind nginx: what each replica promises
 * alone (idempotency, no crash on a store outage) holds for the fleet.
 */

const CREATE = 'mutation Create($i: CreateUserInput!) { createUser(input: $i) { id userName } }';
const READ = '{ azureStatus { state } users(pageSize: 1) { totalRecords } }';
const user = (userName: string, firstName = 'R') => ({
  i: { userName, email: `${userName}@example.com`, firstName, lastName: 'Fleet' },
});
const key = (k: string) => ({ 'idempotency-key': k });

let fleet: Fleet;
/** Every bearer token the gateways sent to NPM. */
const npmTokens = new Set<string>();
beforeAll(async () => {
  fleet = await startFleet({
    replicas: 2,
    npm: {
      onRequest: (_route, headers) => {
        const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? '')?.[1];
        if (bearer !== undefined) npmTokens.add(bearer);
      },
    },
  });
}, 120_000);
afterAll(() => fleet?.close());
beforeEach(() => {
  fleet.axisSim.setLatency(0);
  fleet.axisSim.resetCounts();
});

const created = (name: string) => fleet.axisSim.state().users.filter((u) => u.userName === name).length;
const creates = () => fleet.axisSim.counts()['users.create'] ?? 0;

describe('the NPM token, shared in Redis', () => {
  const status = '{ azureStatus { state } }';
  const burst = () =>
    Promise.all(fleet.replicas.flatMap((r) => Array.from({ length: 10 }, () => fleet.gql(r.url, status))));

  it('the fleet logs in to NPM once, and a token refused as expired is renewed once for the fleet', async () => {
    fleet.npmSim.resetCounts();
    const first = await burst();
    expect(first.every((r) => r.status === 200 && r.body.errors === undefined)).toBe(true);
    expect(fleet.npmSim.counts()['token.post']).toBe(1);
    fleet.npmSim.expireTokens();
    const after = await burst();
    expect(after.every((r) => r.status === 200 && r.body.errors === undefined)).toBe(true);
    expect(fleet.npmSim.counts()['token.post']).toBe(2);
    // The token is a secret: in no replica's log.
    const logs = (await Promise.all(fleet.replicas.map((r) => r.flushedLogs()))).flat().join('\n');
    expect(npmTokens.size).toBe(2);
    for (const token of npmTokens) expect(logs).not.toContain(token);
  });

  it('is sealed in Redis: the raw value holds no token the appliance issued, and no replica logs it', async () => {
    expect((await fleet.gql(fleet.lbUrl, status)).body.errors).toBeUndefined();
    const reader = new Redis(fleet.redis.url);
    const raw = await reader.get('fleet:npm:token');
    reader.disconnect();
    expect(raw).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(npmTokens.size).toBeGreaterThan(0);
    for (const token of npmTokens) expect(raw).not.toContain(token);
    expect((await Promise.all(fleet.replicas.map((r) => r.flushedLogs()))).flat().join('\n')).not.toContain(raw!);
  });
});

describe('Idempotency-Key across replicas (shared in Redis)', () => {
  it('the same key sent to both replicas at once makes exactly one upstream POST, and both get the same answer', async () => {
    fleet.axisSim.setLatency(200);
    const [a, b] = await Promise.all(
      fleet.replicas.map((r) => fleet.gql(r.url, CREATE, user('fleet.same'), key('fleet-k-same'))),
    );
    expect(a!.status).toBe(200);
    expect(a!.body.errors).toBeUndefined();
    expect(b!.body).toEqual(a!.body);
    expect(creates()).toBe(1);
    expect(created('fleet.same')).toBe(1);
  });

  it('a key finished on one replica replays on the other; other input under it is IDEMPOTENCY_KEY_REUSED', async () => {
    const [one, two] = fleet.replicas;
    const first = await fleet.gql(one!.url, CREATE, user('fleet.replay'), key('fleet-k-replay'));
    expect(first.body.errors).toBeUndefined();
    const again = await fleet.gql(two!.url, CREATE, user('fleet.replay'), key('fleet-k-replay'));
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const other = await fleet.gql(two!.url, CREATE, user('fleet.replay.other'), key('fleet-k-replay'));
    expect(other.status).toBe(422);
    expect(codes(other)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    expect(creates()).toBe(1);
  });

  it('a replica killed with SIGKILL and restarted: a same-key retry gets the original answer (the store outlived the process)', async () => {
    const replica = fleet.replicas[0]!;
    const first = await fleet.gql(replica.url, CREATE, user('fleet.killed'), key('fleet-k-killed'));
    expect(first.body.errors).toBeUndefined();
    await replica.kill('SIGKILL');
    // Meanwhile nginx sends everything to the other replica.
    const meanwhile = await fleet.gql(fleet.lbUrl, CREATE, user('fleet.killed'), key('fleet-k-killed'));
    expect(meanwhile.body).toEqual(first.body);
    await replica.start();
    const retry = await fleet.gql(replica.url, CREATE, user('fleet.killed'), key('fleet-k-killed'));
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(creates()).toBe(1);
    expect(created('fleet.killed')).toBe(1);
  }, 60_000);
});

describe('writes of one entity, fleet-wide (the entity lock in Redis)', () => {
  const RUNS = 20;
  it(`two admins on two replicas editing different fields of one user at once: both changes survive (${RUNS} runs)`, async () => {
    // Latency on every Axis call, so the two read-merge-writes overlap unless the lock orders them.
    fleet.axisSim.setLatency(30);
    const [one, two] = fleet.replicas;
    const ids = fleet.axisSim
      .state()
      .users.slice(0, RUNS)
      .map((u) => u.id);
    expect(ids).toHaveLength(RUNS);
    for (const [run, id] of ids.entries()) {
      const [a, b] = await Promise.all([
        fleet.gql(one!.url, `mutation { updateUser(id: "${id}", input: { firstName: "Fleet${run}" }) { id } }`),
        fleet.gql(two!.url, `mutation { updateUser(id: "${id}", input: { lastName: "Replica${run}" }) { id } }`),
      ]);
      expect(a.body.errors, `run ${run}`).toBeUndefined();
      expect(b.body.errors, `run ${run}`).toBeUndefined();
      const stored = fleet.axisSim.state().users.find((u) => u.id === id);
      expect(stored, `run ${run}`).toMatchObject({ firstName: `Fleet${run}`, lastName: `Replica${run}` });
    }
  }, 60_000);
});

describe('Redis stopped and restarted during traffic', () => {
  it('reads keep answering with data, keyed writes are refused with no upstream call and work again once Redis is back, no replica crashes', async () => {
    let stop = false;
    const reads: Array<{ status: number; ok: boolean }> = [];
    const traffic = (async () => {
      while (!stop) {
        const res = await fleet.gql(fleet.lbUrl, READ);
        reads.push({ status: res.status, ok: res.body.errors === undefined && res.body.data !== undefined });
      }
    })();
    try {
      await fleet.redis.stop();
      fleet.axisSim.resetCounts();
      const refused = await Promise.all(
        fleet.replicas.map((r, i) => fleet.gql(r.url, CREATE, user(`fleet.outage.${i}`), key(`fleet-k-outage-${i}`))),
      );
      for (const res of refused) {
        expect(res.status).toBe(503);
        expect(codes(res)).toEqual(['IDEMPOTENCY_UNAVAILABLE']);
      }
      expect(creates()).toBe(0);
      // Every replica stays ready (reads are served) and says Redis is down.
      for (const replica of fleet.replicas) {
        const ready = await request(`${replica.url}/ready`);
        expect({ status: ready.statusCode, body: await ready.body.json() }).toEqual({
          status: 200,
          body: { status: 'ready', redis: 'down' },
        });
      }
      // A mutation without a key is not the store's business: it runs.
      const unkeyed = await fleet.gql(fleet.lbUrl, CREATE, user('fleet.outage.unkeyed'));
      expect(unkeyed.body.errors).toBeUndefined();
      expect(creates()).toBe(1);
      const readsDuringOutage = reads.length;
      await expect.poll(() => reads.length, { timeout: 10_000 }).toBeGreaterThan(readsDuringOutage + 5);

      await fleet.redis.start();
      // Within seconds of Redis's return, on every replica.
      for (const [i, replica] of fleet.replicas.entries()) {
        await expect
          .poll(
            async () =>
              codes(await fleet.gql(replica.url, CREATE, user(`fleet.back.${i}`), key(`fleet-k-back-${i}`))).length,
            { timeout: 10_000, interval: 200 },
          )
          .toBe(0);
        expect(created(`fleet.back.${i}`)).toBe(1);
      }
    } finally {
      stop = true;
      await traffic;
    }
    const ready = await request(`${fleet.replicas[0]!.url}/ready`);
    expect(await ready.body.json()).toEqual({ status: 'ready', redis: 'ready' });
    expect(reads.length).toBeGreaterThan(10);
    expect(reads.filter((r) => r.status !== 200 || !r.ok)).toEqual([]);
    for (const replica of fleet.replicas) {
      expect(replica.running).toBe(true);
      expect(
        (await replica.flushedLogs()).filter((l) => l.includes('unhandled rejection') || l.includes('uncaught')),
      ).toEqual([]);
    }
  }, 60_000);
});

describe('a replica killed with SIGKILL during a write load behind nginx', () => {
  it('every acknowledged write exists exactly once, and no write is doubled (unknown outcomes settled from the simulator)', async () => {
    fleet.axisSim.setLatency(30);
    const victim = fleet.replicas[1]!;
    const writes = Array.from({ length: 60 }, (_, i) => ({
      userName: `fleet.load.${i}`,
      id: undefined as string | undefined,
      failure: undefined as string | undefined,
    }));
    let acknowledged = 0;
    let killed: Promise<void> | undefined;
    let next = 0;
    const worker = async () => {
      while (next < writes.length) {
        const w = writes[next++]!;
        try {
          const res = await fleet.gql(fleet.lbUrl, CREATE, user(w.userName), key(`fleet-k-load-${w.userName}`));
          const created = (res.body.data?.['createUser'] as { id?: string } | null | undefined)?.id;
          if (res.status === 200 && created !== undefined && res.body.errors === undefined) w.id = created;
          else w.failure = `${res.status} ${codes(res).join()}`;
        } catch (err) {
          w.failure = (err as Error).message;
        }
        if (w.id !== undefined) acknowledged += 1;
        // Counted, not timed: the kill lands while the rest are in flight.
        if (acknowledged === 15) killed ??= victim.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    await killed;
    expect(killed).toBeDefined();
    await victim.start();
    fleet.axisSim.setLatency(0);

    const byName = new Map<string, string[]>();
    for (const u of fleet.axisSim.state().users) byName.set(u.userName, [...(byName.get(u.userName) ?? []), u.id]);
    const acked = writes.filter((w) => w.id !== undefined);
    // Most writes went through the survivor; the ones caught on the victim are unknown to the client.
    expect(acked.length).toBeGreaterThanOrEqual(30);
    for (const w of acked) expect(byName.get(w.userName), w.userName).toEqual([w.id]);
    for (const w of writes.filter((x) => x.id === undefined))
      expect(byName.get(w.userName)?.length ?? 0, `${w.userName}: ${w.failure}`).toBeLessThanOrEqual(1);
    console.info(
      `write load with a SIGKILLed replica: ${acked.length} of ${writes.length} acknowledged, ${writes.length - acked.length} unknown/failed`,
    );
  }, 120_000);
});
