import { afterAll, beforeAll } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createRedisConnection } from '../../src/stores/redis.js';
import type { RedisConnection } from '../../src/stores/redis.js';
import { startRedisServer } from './redis-server.js';
import type { RedisServer } from './redis-server.js';

/** A gateway-style connection to a test's redis-server, resolved once it is ready. */
async function connectRedis(url: string, keyPrefix = 'test:'): Promise<RedisConnection> {
  const connection = createRedisConnection({ url, keyPrefix, logger: createLogger('silent') });
  if (connection.client.status !== 'ready') {
    await new Promise<void>((resolve) => connection.client.once('ready', () => resolve()));
  }
  return connection;
}

/**
 * A store suite's Redis: a redis-server of its own for the file (started before, stopped
 * after), and connections to it (or to another server) closed with it. `replicas(name)`
 * gives two connections, as two replicas would hold, and a key prefix no other case uses.
 */
export function redisForSuite() {
  let server: RedisServer | undefined;
  const connections: RedisConnection[] = [];
  let prefixes = 0;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await server?.stop();
  });
  const connect = async (url = server!.url): Promise<RedisConnection> => {
    const connection = await connectRedis(url);
    connections.push(connection);
    return connection;
  };
  return {
    connect,
    async replicas(name: string): Promise<{ keyPrefix: string; pair: [RedisConnection, RedisConnection] }> {
      const keyPrefix = `${name}${(prefixes += 1)}:`;
      const pair = await Promise.all([connect(), connect()]);
      return { keyPrefix, pair };
    },
  };
}
