import { Repeater, SlidingBuffer } from 'graphql-yoga';
import type { Logger } from 'pino';
import { GatewayError, toGatewayError } from '../errors.js';
import { UpstreamError } from '../upstreams/upstream-error.js';
import type { ErrorCode } from '../errors.js';
import type { RedisConnection } from '../stores/redis.js';
import type { CloudStatus } from '../upstreams/npm/types.js';
import { isSameEvent } from './azure-status-feed.js';
import type { AzureStatusEvent, AzureStatusFeed } from './azure-status-feed.js';

/**
 * `subscription { azureStatus }` for a fleet (REDIS_URL set): one NPM `GET /status` poller
 * for every replica, a layer around the one-process feed (azure-status-feed.ts), which stays
 * the poller and keeps its rules (poll only while subscribed, push only changes, one error
 * event per outage).
 *
 * - Lease: a replica with subscribers tries, every lease/3, to take or renew a lease in Redis
 *   (`SET NX PX`, renewed by a compare-and-pexpire script). Only the holder runs the poller.
 *   When it dies, its lease runs out and the next replica that tries takes it: polling
 *   resumes within `lease + lease/3` (with lease = 3 poll intervals, about 4 intervals).
 *   A holder whose last subscriber left gives the lease back at once.
 * - Fan-out: the holder publishes each event on a Redis channel and keeps the latest in a
 *   key (a new subscriber anywhere gets it at once); every replica, the holder included,
 *   pushes what arrives on the channel to its own subscribers, dropping repeats.
 * - Poll-now: `nudge()` publishes on a second channel; the holder's poller polls at once.
 * - Redis down: a replica with subscribers polls for itself (the one-process behaviour)
 *   until Redis answers again, so no dashboard freezes; the fleet polls N times meanwhile.
 */

export interface FleetStatusFeedOptions {
  redis: RedisConnection;
  /** The one-process feed polling NPM (createAzureStatusFeed): run only while this replica polls. */
  poller: AzureStatusFeed;
  pollMs: number;
  logger: Logger;
}

export interface FleetStatusFeed extends AzureStatusFeed {
  /** True while this replica's poller runs for the fleet (for /metrics). */
  holdsLease(): boolean;
}

const SUBSCRIBER_BUFFER = 8;
/** The lease outlives this many poll intervals: a slow poll never loses it, a dead holder is replaced soon. */
const LEASE_POLLS = 3;
const MIN_LEASE_MS = 1_500;

const TAKE_OR_RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type WireEvent =
  | {
      status: Omit<CloudStatus, 'lastSyncAt' | 'lastSuccessAt'> & {
        lastSyncAt: string | null;
        lastSuccessAt: string | null;
      };
    }
  | { error: { code: ErrorCode; message: string; extensions: Record<string, unknown> } };

function toWire(event: AzureStatusEvent): string {
  if (event.status !== undefined) {
    const { lastSyncAt, lastSuccessAt, ...rest } = event.status;
    return JSON.stringify({
      status: {
        ...rest,
        lastSyncAt: lastSyncAt?.toISOString() ?? null,
        lastSuccessAt: lastSuccessAt?.toISOString() ?? null,
      },
    } satisfies WireEvent);
  }
  // What a client would see (the code and message only): never an upstream body or URL.
  const mapped =
    event.error instanceof UpstreamError
      ? toGatewayError(event.error)
      : event.error instanceof GatewayError
        ? event.error
        : new GatewayError('INTERNAL_SERVER_ERROR', 'Unexpected error.');
  const { code, ...extensions } = mapped.extensions as { code: ErrorCode } & Record<string, unknown>;
  return JSON.stringify({ error: { code, message: mapped.message, extensions } } satisfies WireEvent);
}

function fromWire(text: string): AzureStatusEvent | undefined {
  try {
    const wire = JSON.parse(text) as WireEvent;
    if ('status' in wire) {
      const { lastSyncAt, lastSuccessAt, ...rest } = wire.status;
      return {
        status: {
          ...rest,
          lastSyncAt: lastSyncAt === null ? null : new Date(lastSyncAt),
          lastSuccessAt: lastSuccessAt === null ? null : new Date(lastSuccessAt),
        },
      };
    }
    return { error: new GatewayError(wire.error.code, wire.error.message, wire.error.extensions) };
  } catch {
    return undefined;
  }
}

interface Subscriber {
  push(event: AzureStatusEvent): unknown;
  stop(): void;
  /** What this subscriber was last sent: a subscriber gets each event once, whichever path brings it. */
  sent?: AzureStatusEvent;
}

function send(s: Subscriber, event: AzureStatusEvent): void {
  if (isSameEvent(s.sent, event)) return;
  s.sent = event;
  void s.push(event);
}

export function createFleetStatusFeed({ redis, poller, pollMs, logger }: FleetStatusFeedOptions): FleetStatusFeed {
  const log = logger.child({ component: 'azure-status-fleet' });
  const { client, subscriber: pubsub, keyPrefix, replicaId } = redis;
  const leaseKey = `${keyPrefix}azure-status:lease`;
  const lastKey = `${keyPrefix}azure-status:last`;
  const eventsChannel = `${keyPrefix}azure-status:events`;
  const nudgeChannel = `${keyPrefix}azure-status:nudge`;
  const leaseMs = Math.max(MIN_LEASE_MS, LEASE_POLLS * pollMs);
  const tickMs = Math.floor(leaseMs / 3);

  const subscribers = new Set<Subscriber>();
  let last: AzureStatusEvent | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  /** The poller this replica runs: for the fleet (`leader`) or, while Redis is down, for itself. */
  let polling: { mode: 'leader' | 'alone'; stop: () => void } | undefined;
  let listening = false;

  function deliver(event: AzureStatusEvent): void {
    if (isSameEvent(last, event)) return;
    last = event;
    for (const s of subscribers) send(s, event);
  }

  function onMessage(channel: string, message: string): void {
    if (channel === eventsChannel) {
      if (polling?.mode === 'alone') return;
      const event = fromWire(message);
      if (event !== undefined && subscribers.size > 0) deliver(event);
    } else if (channel === nudgeChannel && polling?.mode === 'leader') {
      poller.nudge();
    }
  }

  function listen(): void {
    if (listening) return;
    listening = true;
    pubsub.on('message', onMessage);
    // Queued by ioredis until connected, and renewed after every reconnect.
    pubsub.subscribe(eventsChannel, nudgeChannel).catch((err: unknown) => log.warn({ err }, 'redis subscribe failed'));
  }

  async function share(event: AzureStatusEvent): Promise<void> {
    const wire = toWire(event);
    try {
      await client.set(lastKey, wire, 'PX', leaseMs * 2);
      await client.publish(eventsChannel, wire);
    } catch {
      // Redis went away between two ticks: this replica's own subscribers still get it.
      deliver(event);
    }
  }

  function startPolling(mode: 'leader' | 'alone'): void {
    if (polling?.mode === mode) return;
    stopPolling();
    const events = poller.subscribe();
    let stopped = false;
    polling = {
      mode,
      stop: () => {
        stopped = true;
        void events.return?.();
      },
    };
    log.info(
      { mode, replica: replicaId },
      mode === 'leader' ? 'polling NPM status for the fleet' : 'redis down: polling NPM status for this replica',
    );
    void (async () => {
      for await (const event of events) {
        if (stopped) break;
        if (mode === 'leader') await share(event);
        else deliver(event);
      }
    })();
  }

  function stopPolling(): void {
    polling?.stop();
    polling = undefined;
  }

  async function tick(): Promise<void> {
    if (closed) return;
    if (subscribers.size === 0) {
      const wasLeader = polling?.mode === 'leader';
      stopPolling();
      if (wasLeader) await client.eval(RELEASE, 1, leaseKey, replicaId).catch(() => undefined);
      return;
    }
    let held: boolean;
    try {
      held = (await client.eval(TAKE_OR_RENEW, 2, leaseKey, lastKey, replicaId, leaseMs, leaseMs * 2)) === 1;
    } catch {
      startPolling('alone');
      return;
    }
    if (held) startPolling('leader');
    else if (polling !== undefined) {
      if (polling.mode === 'leader') log.warn({ replica: replicaId }, 'lost the NPM status poller lease');
      stopPolling();
    }
    // Subscribers that joined just before the fleet's first event can have missed it: this
    // replica's SUBSCRIBE was not in place when it was published, nor the stored copy written
    // when they looked, and the poller pushes only changes. Catch up from the stored copy.
    if (last === undefined && subscribers.size > 0) {
      const known = await stored();
      if (known !== undefined && last === undefined && subscribers.size > 0) deliver(known);
    }
  }

  function runTick(): void {
    ticking ??= tick().finally(() => {
      ticking = undefined;
      schedule();
    });
  }

  function schedule(): void {
    if (closed || timer !== undefined || (subscribers.size === 0 && polling === undefined)) return;
    timer = setTimeout(() => {
      timer = undefined;
      runTick();
    }, tickMs);
    timer.unref();
  }

  async function stored(): Promise<AzureStatusEvent | undefined> {
    try {
      const text = await client.get(lastKey);
      return text === null ? undefined : fromWire(text);
    } catch {
      return undefined;
    }
  }

  function leave(s: Subscriber): void {
    if (!subscribers.delete(s) || subscribers.size > 0) return;
    last = undefined;
    runTick();
  }

  return {
    subscribe() {
      return new Repeater<AzureStatusEvent>(async (push, stop) => {
        if (closed) return stop();
        const s: Subscriber = { push, stop };
        subscribers.add(s);
        listen();
        if (subscribers.size === 1) runTick();
        // The latest event at once: this replica's, else the fleet's (from Redis). One that
        // arrives on the channel meanwhile reaches this subscriber through deliver(); one
        // that another subscriber's look-up brought in meanwhile is `last` by then. A copy
        // this look-up brings in is delivered to every subscriber here: one that looked
        // earlier and found nothing waits for it too, and once `last` is set neither the
        // channel (the same event) nor the lease tick's catch-up would bring it.
        const known = last ?? (await stored());
        if (subscribers.has(s)) {
          if (last !== undefined) send(s, last);
          else if (known !== undefined) deliver(known);
        }
        await stop;
        leave(s);
      }, new SlidingBuffer(SUBSCRIBER_BUFFER));
    },

    nudge() {
      if (closed) return;
      if (polling !== undefined) poller.nudge();
      else client.publish(nudgeChannel, '1').catch(() => undefined);
    },

    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const wasLeader = polling?.mode === 'leader';
      stopPolling();
      poller.close();
      if (wasLeader) void client.eval(RELEASE, 1, leaseKey, replicaId).catch(() => undefined);
      pubsub.off('message', onMessage);
      for (const s of [...subscribers]) s.stop();
      subscribers.clear();
    },

    get subscribers() {
      return subscribers.size;
    },

    holdsLease: () => polling?.mode === 'leader',
  };
}
