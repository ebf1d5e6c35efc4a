import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../helpers/redis-server.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/** The fleet's NPM token (REDIS_URL set) when Redis is away: each replica logs in for itself. */

let redis: RedisServer;
let stack: Stack;
beforeAll(async () => {
  redis = await startRedisServer();
  stack = await startStack({ env: { REDIS_URL: redis.url } });
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

describe('the shared NPM token while Redis is unreachable', () => {
  it('a token refused as expired is renewed by this replica alone, once, and reads go on; once Redis is back the token is shared again', async () => {
    const read = '{ azureStatus { state } }';
    expect((await stack.gql(read)).body.errors).toBeUndefined();
    stack.resetCounts();
    await redis.stop();
    stack.npmSim.expireTokens();
    const during = await Promise.all(Array.from({ length: 10 }, () => stack.gql(read)));
    expect(during.every((r) => r.status === 200 && r.body.errors === undefined)).toBe(true);
    expect(stack.npmSim.counts()['token.post']).toBe(1);
    expect(stack.logs.some((l) => l.includes('logging in to NPM for this replica only'))).toBe(true);

    await redis.start();
    await expect
      .poll(async () => ((await (await request(`${stack.url}/ready`)).body.json()) as { redis?: string }).redis, {
        timeout: 10_000,
      })
      .toBe('ready');
    stack.npmSim.expireTokens();
    expect((await stack.gql(read)).body.errors).toBeUndefined();
    expect(stack.npmSim.counts()['token.post']).toBe(2);
    // Stored in Redis for the fleet this time (under the default REDIS_KEY_PREFIX), never in a log line.
    const probe = new Redis(redis.url);
    const stored = await probe.get('npm-axis-gateway:npm:token');
    probe.disconnect();
    expect(stored).not.toBeNull();
    const logs = stack.logs.join('\n');
    expect(logs).not.toContain(stored!.split('\n')[0]);
    expect(logs).not.toMatch(/access_token|Bearer [A-Za-z0-9]/);
  });
});
