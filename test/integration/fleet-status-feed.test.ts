import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { openSse } from '../helpers/sse.js';
import type { SseEvent } from '../helpers/sse.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The fleet's azureStatus feed (REDIS_URL set) in one gateway: while Redis is down the
 * replica polls for itself, so a dashboard never freezes; once Redis is back the fleet's
 * single poller takes over again.
 */

const STATUS = 'subscription { azureStatus { state } }';
const states = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'next')
    .map((e) => (e.data?.data?.['azureStatus'] as { state?: string } | null)?.state ?? 'error');

let redis: RedisServer;
let stack: Stack;
beforeAll(async () => {
  redis = await startRedisServer();
  stack = await startStack({ env: { REDIS_URL: redis.url, AZURE_STATUS_POLL_MS: '100', METRICS_ENABLED: 'true' } });
  for (let i = 0; i < 200; i++) {
    const ready = (await (await request(`${stack.url}/ready`)).body.json()) as { redis?: string };
    if (ready.redis === 'ready') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
});
afterAll(async () => {
  await stack?.close();
  await redis?.stop();
});

async function leaseGauge(): Promise<string | undefined> {
  const text = await (await request(`${stack.url}/metrics`)).body.text();
  return /^gateway_azure_status_poller_lease (\d)$/m.exec(text)?.[1];
}

describe('azureStatus with REDIS_URL, across a Redis outage', () => {
  it('holds the lease while subscribed, keeps pushing changes while Redis is down, and after it returns', async () => {
    const sub = await openSse(stack.url, STATUS, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    try {
      await sub.waitFor((e) => states(e).length === 1, 10_000);
      await expect.poll(leaseGauge).toBe('1');
      await redis.stop();
      const disable = await stack.gql('mutation { setAzureSyncEnabled(enabled: false) { state } }');
      expect(disable.body.errors).toBeUndefined();
      await sub.waitFor((e) => states(e).at(-1) === 'SYNC_DISABLED', 10_000);
      await redis.start();
      await expect.poll(leaseGauge, { timeout: 10_000 }).toBe('1');
      const enable = await stack.gql('mutation { setAzureSyncEnabled(enabled: true) { state } }');
      expect(enable.body.errors).toBeUndefined();
      await sub.waitFor((e) => states(e).at(-1) === 'SYNC_NA', 10_000);
      // No event repeats the one before it, across both switches of mode.
      const seen = states(sub.events);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
    } finally {
      sub.close();
    }
  }, 60_000);
});
