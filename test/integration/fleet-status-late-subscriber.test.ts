import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Repeater } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetStatusFeed } from '../../src/live/fleet-status-feed.js';
import type { AzureStatusEvent, AzureStatusFeed } from '../../src/live/azure-status-feed.js';
import type { RedisConnection } from '../../src/stores/redis.js';
import { startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';

/**
 * A replica whose subscribers joined just before the fleet's first event: its SUBSCRIBE
 * reached Redis after the holder published, and the stored copy was not there yet when
 * they looked. The poller pushes only changes, so without a catch-up they would wait for
 * the next change of the sync state, which may never come (seen once under load in the
 * two-replica test).
 */

const STATUS: AzureStatusEvent = {
  status: {
    enabled: true,
    state: 'SYNC_SUCCEEDED',
    errorId: null,
    errorText: null,
    lastSyncAt: null,
    lastSuccessAt: null,
  },
};

/** A poller that yields one status when told to, then nothing (the state never changes). */
function heldPoller(): AzureStatusFeed & { release(): void } {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    subscribe: () =>
      new Repeater<AzureStatusEvent>(async (push, stop) => {
        await Promise.race([released, stop]);
        await push(STATUS);
        await stop;
      }),
    nudge: () => undefined,
    close: () => undefined,
    subscribers: 0,
    release: () => release(),
  };
}

let redis: RedisServer;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

function connection(replicaId: string, subscribeDelayMs = 0): RedisConnection {
  const client = new Redis(redis.url);
  const subscriber = new Redis(redis.url);
  clients.push(client, subscriber);
  if (subscribeDelayMs > 0) {
    // The SUBSCRIBE of this replica reaches Redis late (a slow link, a busy event loop).
    const subscribe = subscriber.subscribe.bind(subscriber) as (...channels: string[]) => Promise<unknown>;
    (subscriber as unknown as { subscribe: (...channels: string[]) => Promise<unknown> }).subscribe = (...channels) =>
      sleep(subscribeDelayMs).then(() => subscribe(...channels));
  }
  return {
    client,
    subscriber,
    keyPrefix: 'late-test:',
    replicaId,
    state: () => 'ready',
    connected: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
}

/** STATUS as the holder stores it in Redis. */
const STORED = JSON.stringify({ status: { ...STATUS.status, lastSyncAt: null, lastSuccessAt: null } });

/**
 * A replica that never polls (its poller never answers, and the lease is held by a replica
 * elsewhere), with a Redis client to play that holder.
 */
/** The event `next` brings within `ms`, or 'nothing': a subscriber left waiting fails its test instead of timing out. */
function valueWithin(next: Promise<IteratorResult<AzureStatusEvent>>, ms: number): Promise<unknown> {
  return Promise.race([next.then((r) => r.value as unknown), sleep(ms).then(() => 'nothing')]);
}

async function notPolling(
  keyPrefix: string,
  replicaId: string,
): Promise<{ feed: ReturnType<typeof createFleetStatusFeed>; seed: Redis }> {
  const seed = new Redis(redis.url);
  clients.push(seed);
  await seed.set(`${keyPrefix}azure-status:lease`, 'elsewhere', 'PX', 60_000);
  const feed = createFleetStatusFeed({
    redis: { ...connection(replicaId), keyPrefix },
    poller: heldPoller(),
    pollMs: 100,
    logger: pino({ level: 'silent' }),
  });
  return { feed, seed };
}

describe('the fleet status feed, for subscribers that joined just before the first event', () => {
  it('catches up from the stored copy within a lease tick instead of waiting for a change', async () => {
    const logger = pino({ level: 'silent' });
    const holderPoller = heldPoller();
    const holder = createFleetStatusFeed({ redis: connection('A'), poller: holderPoller, pollMs: 100, logger });
    const late = createFleetStatusFeed({ redis: connection('B', 1_500), poller: heldPoller(), pollMs: 100, logger });
    try {
      const first = holder.subscribe();
      const firstEvent = first.next();
      // A takes the lease before B's subscriber arrives.
      await sleep(300);
      expect(holder.holdsLease()).toBe(true);
      const lateSub = late.subscribe();
      const lateEvent = lateSub.next();
      // B looked for a stored copy (none yet); now A's poller answers, while B's SUBSCRIBE is still on its way.
      await sleep(200);
      holderPoller.release();
      expect((await firstEvent).value).toEqual(STATUS);
      const got = await valueWithin(lateEvent, 4_000);
      expect(got).toEqual(STATUS);
      await first.return?.();
      await lateSub.return?.();
    } finally {
      holder.close();
      late.close();
    }
  });

  it('subscribers joining together on a replica that is not polling each get the stored copy, not only the first', async () => {
    const { feed, seed } = await notPolling('together-test:', 'C');
    // The fleet's latest event, stored by the holder elsewhere.
    await seed.set('together-test:azure-status:last', STORED, 'PX', 60_000);
    try {
      const subs = Array.from({ length: 10 }, () => feed.subscribe());
      // All ten look up the stored copy at once; each must be sent it.
      const got = await Promise.all(subs.map((sub) => valueWithin(sub.next(), 2_000)));
      expect(got).toEqual(Array.from({ length: 10 }, () => STATUS));
      expect(feed.holdsLease()).toBe(false);
      await Promise.all(subs.map((sub) => sub.return?.()));
    } finally {
      feed.close();
    }
  });

  it('a subscriber that found nothing stored gets the copy a later subscriber on its replica found', async () => {
    // The holder's publish happens before this replica's SUBSCRIBE (here: no publish at all).
    const { feed, seed } = await notPolling('earlier-test:', 'D');
    try {
      const earlier = feed.subscribe();
      const earlierEvent = earlier.next();
      // It looked before the holder's first poll: nothing stored yet.
      await sleep(100);
      await seed.set('earlier-test:azure-status:last', STORED, 'PX', 60_000);
      const later = feed.subscribe();
      expect((await later.next()).value).toEqual(STATUS);
      // The later look-up's copy is this replica's latest now: the earlier subscriber must get it
      // too (at once, or at the next lease tick), not wait for a change that may never come.
      const got = await valueWithin(earlierEvent, 2_000);
      expect(got).toEqual(STATUS);
      await earlier.return?.();
      await later.return?.();
    } finally {
      feed.close();
    }
  });
});
