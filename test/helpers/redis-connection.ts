import { createLogger } from '../../src/logger.js';
import { createRedisConnection } from '../../src/stores/redis.js';
import type { RedisConnection } from '../../src/stores/redis.js';

/** A gateway-style connection to a test's redis-server, resolved once it is ready. */
export async function connectRedis(url: string, keyPrefix = 'test:'): Promise<RedisConnection> {
  const connection = createRedisConnection({ url, keyPrefix, logger: createLogger('silent') });
  if (connection.client.status !== 'ready') {
    await new Promise<void>((resolve) => connection.client.once('ready', () => resolve()));
  }
  return connection;
}
