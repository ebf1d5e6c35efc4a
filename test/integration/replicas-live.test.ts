import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../helpers/fleet.js';
import type { Fleet, Replica } from '../helpers/fleet.js';
import { openSse } from '../helpers/sse.js';
import type { SseEvent, SseStream } from '../helpers/sse.js';
import { ADMIN_KEY } from '../helpers/stack.js';

/**
 * `subscription { azureStatus }` over a fleet: one NPM GET /status poller for every replica
 * (a lease in Redis), events fanned out over Redis pub/sub, poll-now from any replica.
 */

const STATUS = 'subscription { azureStatus { state enabled } }';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const states = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'next')
    .map((e) => (e.data?.data?.['azureStatus'] as { state?: string } | null)?.state ?? 'error');

async function holdsLease(replica: Replica): Promise<boolean> {
  const res = await request(`${replica.url}/metrics`);
  const text = await res.body.text();
  return /^gateway_azure_status_poller_lease 1$/m.test(text);
}

describe('one poller for the fleet (AZURE_STATUS_POLL_MS=500)', () => {
  const POLL_MS = 500;
  let fleet: Fleet;
  const open: SseStream[] = [];
  beforeAll(async () => {
    fleet = await startFleet({ replicas: 2, env: { AZURE_STATUS_POLL_MS: String(POLL_MS) } });
  }, 120_000);
  afterAll(async () => {
    for (const s of open) s.close();
    await fleet?.close();
  });

  it('20 subscribers spread over two replicas cause one GET /status per interval, not one per replica', async () => {
    const subs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => openSse(fleet.replicas[i % 2]!.url, STATUS, { headers: admin })),
    );
    open.push(...subs);
    await Promise.all(subs.map((s) => s.waitFor((e) => states(e).length >= 1, 10_000)));
    expect(subs.every((s) => states(s.events)[0] === 'SYNC_SUCCEEDED')).toBe(true);
    fleet.npmSim.resetCounts();
    const windowMs = 3_000;
    await sleep(windowMs);
    const polls = fleet.npmSim.counts()['status.get'] ?? 0;
    console.info(
      `fleet of 2, 20 subscribers: ${polls} GET /status in ${windowMs} ms at ${POLL_MS} ms (${(polls / (windowMs / POLL_MS)).toFixed(2)} per interval)`,
    );
    // One poller: at most one per interval (plus one for a window edge); one per replica would be twice that.
    // Polling goes on (a loaded machine may stretch an interval, so only "some").
    expect(polls).toBeGreaterThanOrEqual(2);
    expect(polls).toBeLessThanOrEqual(windowMs / POLL_MS + 1);
    const holders = await Promise.all(fleet.replicas.map(holdsLease));
    expect(holders.filter(Boolean)).toHaveLength(1);
  });

  it('after the lease holder is killed (SIGKILL), polling resumes on the other replica within the documented bound, and its subscribers keep getting changes', async () => {
    const holders = await Promise.all(fleet.replicas.map(holdsLease));
    const holder = fleet.replicas[holders.indexOf(true)]!;
    const survivor = fleet.replicas.find((r) => r !== holder)!;
    const survivors = open.filter((_, i) => fleet.replicas[i % 2] === survivor);
    await holder.kill('SIGKILL');
    fleet.npmSim.resetCounts();
    const killedAt = Date.now();
    // Documented bound: lease (3 intervals, at least 1.5 s) + lease/3 + one interval.
    const leaseMs = Math.max(1_500, 3 * POLL_MS);
    const boundMs = leaseMs + leaseMs / 3 + POLL_MS;
    await expect
      .poll(() => fleet.npmSim.counts()['status.get'] ?? 0, { timeout: boundMs * 2, interval: 20 })
      .toBeGreaterThan(0);
    const takeoverMs = Date.now() - killedAt;
    console.info(`poller takeover after SIGKILL of the holder: ${takeoverMs} ms (bound ${boundMs} ms)`);
    expect(await holdsLease(survivor)).toBe(true);
    // A change made through the survivor reaches the survivor's subscribers.
    const before = survivors.map((s) => states(s.events).length);
    const res = await fleet.gql(survivor.url, 'mutation { setAzureSyncEnabled(enabled: false) { state } }');
    expect(res.body.errors).toBeUndefined();
    await Promise.all(survivors.map((s, i) => s.waitFor((e) => states(e).length > before[i]!, 10_000)));
    expect(survivors.every((s) => states(s.events).at(-1) === 'SYNC_DISABLED')).toBe(true);
  }, 30_000);
});

describe('poll-now from any replica (AZURE_STATUS_POLL_MS=60000)', () => {
  let fleet: Fleet;
  const open: SseStream[] = [];
  beforeAll(async () => {
    fleet = await startFleet({ replicas: 2, env: { AZURE_STATUS_POLL_MS: '60000' } });
  }, 120_000);
  afterAll(async () => {
    for (const s of open) s.close();
    await fleet?.close();
  });

  it('setAzureSyncEnabled on either replica reaches subscribers on both at once, not at the next tick a minute later', async () => {
    const subs = await Promise.all(fleet.replicas.map((r) => openSse(r.url, STATUS, { headers: admin })));
    open.push(...subs);
    await Promise.all(subs.map((s) => s.waitFor((e) => states(e).length === 1, 10_000)));
    for (const [i, replica] of fleet.replicas.entries()) {
      const enabled = i % 2 === 1;
      const res = await fleet.gql(replica.url, `mutation { setAzureSyncEnabled(enabled: ${enabled}) { state } }`);
      expect(res.body.errors).toBeUndefined();
      await Promise.all(subs.map((s) => s.waitFor((e) => states(e).length === i + 2, 10_000)));
    }
    for (const s of subs) expect(states(s.events)).toEqual(['SYNC_SUCCEEDED', 'SYNC_DISABLED', 'SYNC_NA']);
  }, 30_000);
});
