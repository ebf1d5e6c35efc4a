import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type * as Ioredis from 'ioredis';
import type { Logger } from 'pino';

/**
 * The Redis connections of one replica: a command client shared by every store, and a second
 * connection for pub/sub (a subscribed connection can run no other command). Built once in
 * composeGateway when REDIS_URL is set, closed at shutdown.
 *
 * Commands fail fast while Redis is unreachable (no offline queue, a command timeout): a
 * store decides what an outage means for it (the rate limit falls back to memory, a keyed
 * mutation is refused), and no request waits for a reconnect. ioredis reconnects on its own
 * every few hundred milliseconds, and resubscribes the pub/sub connection.
 */
export interface RedisConnection {
  readonly client: Redis;
  readonly subscriber: Redis;
  /** Prepended to every key and channel (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  /** This replica's name in leases (host, pid and a random part: unique even after a restart). */
  readonly replicaId: string;
  /** `ready` when commands can run, `down` otherwise (for /ready's body and logs). */
  state(): 'ready' | 'down';
  /**
   * Resolves once connected, or after `timeoutMs` regardless: a replica waits this long at
   * start so its first keyed mutation finds Redis, but starts (reads served) without it.
   */
  connected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const loadIoredis = createRequire(import.meta.url);

export interface RedisCommandEvent {
  command: string;
  durationMs: number;
  ok: boolean;
}

export interface RedisConnectionOptions {
  url: string;
  keyPrefix: string;
  logger: Logger;
  /** One call per command (metrics: latency and errors by command name). */
  onCommand?: (event: RedisCommandEvent) => void;
  /** Per command; an unanswered command fails after this long. */
  commandTimeoutMs?: number;
}

/** Commands whose names are label values; anything else is counted as `other`. */
const KNOWN_COMMANDS = new Set([
  'get',
  'set',
  'del',
  'eval',
  'evalsha',
  'publish',
  'subscribe',
  'pexpire',
  'pttl',
  'incr',
  'info',
  'ping',
  'script',
]);

export function createRedisConnection({
  url,
  keyPrefix,
  logger,
  onCommand,
  commandTimeoutMs = 1_000,
}: RedisConnectionOptions): RedisConnection {
  // Loaded here, not at start: without REDIS_URL the gateway never pays for ioredis (its
  // module graph is the largest of the gateway's dependencies, ~10 MiB of RSS).
  const { Redis: RedisClient } = loadIoredis('ioredis') as typeof Ioredis;
  const log = logger.child({ component: 'redis' });
  const replicaId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const common = {
    // Reconnect quickly and for ever: an outage ends as soon as Redis is back.
    retryStrategy: (times: number) => Math.min(50 * times, 500),
    connectTimeout: 2_000,
    lazyConnect: false,
  } as const;
  const client = new RedisClient(url, {
    ...common,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectionName: `${replicaId}:cmd`,
  });
  // The subscriber queues its SUBSCRIBE until connected, and resubscribes after a reconnect.
  const subscriber = new RedisClient(url, { ...common, connectionName: `${replicaId}:sub` });

  // ioredis emits `error` on every failed reconnect: one warning per outage, not a flood,
  // and never the URL (it may hold the password).
  let down = false;
  for (const [name, connection] of [
    ['commands', client],
    ['pubsub', subscriber],
  ] as const) {
    connection.on('error', (err: Error & { code?: string }) => {
      if (name === 'commands' && down) return;
      if (name === 'commands') down = true;
      log.warn({ connection: name, code: err.code ?? err.name }, 'redis unreachable; retrying');
    });
  }
  client.on('ready', () => {
    if (down) log.info('redis reachable again');
    down = false;
  });

  if (onCommand !== undefined) {
    // Every command goes through sendCommand (ioredis's public low-level entry), so one wrap
    // times them all, rate-limiter-flexible's included.
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command, stream) => {
      const started = performance.now();
      const name = KNOWN_COMMANDS.has(command.name) ? command.name : 'other';
      const result = send(command, stream);
      command.promise.then(
        () => onCommand({ command: name, durationMs: performance.now() - started, ok: true }),
        () => onCommand({ command: name, durationMs: performance.now() - started, ok: false }),
      );
      return result;
    }) as typeof client.sendCommand;
  }

  return {
    client,
    subscriber,
    keyPrefix,
    replicaId,
    state: () => (client.status === 'ready' ? 'ready' : 'down'),
    connected(timeoutMs) {
      if (client.status === 'ready') return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = () => {
          clearTimeout(timer);
          resolve(true);
        };
        client.once('ready', onReady);
      });
    },
    async close() {
      await Promise.all([
        client.quit().catch(() => client.disconnect()),
        subscriber.quit().catch(() => subscriber.disconnect()),
      ]);
    },
  };
}
