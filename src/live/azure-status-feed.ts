import { Repeater, SlidingBuffer } from 'graphql-yoga';
import type { Logger } from 'pino';
import { codeOf } from '../errors.js';
import type { CallContext } from '../upstreams/http.js';
import type { CloudStatus } from '../upstreams/npm/types.js';

/**
 * The one poller behind `subscription { azureStatus }`, built once per gateway instance.
 *
 * NPM has no push channel, only `GET /status`. Polling it once per subscriber would make
 * upstream traffic grow with the number of open dashboards, so every subscriber shares one
 * poll loop that runs only while someone is subscribed:
 *
 * - the first subscriber starts it; the last one to leave stops it and forgets the status
 *   (nobody keeps it fresh any more, so the next first subscriber fetches anew);
 * - a subscriber gets the last known status at once; when none is known yet, it waits for
 *   the one fetch in flight, which every concurrent joiner shares;
 * - a poll's result is pushed only when it differs from the last one (mapped status
 *   compared field by field), so subscribers never see the same value twice in a row;
 * - a failed poll becomes an error event, pushed once per error code (a long outage is
 *   one event, not one per poll); the loop keeps going and the status is pushed again when
 *   NPM answers. The stream never ends because of an upstream fault;
 * - the next poll is scheduled when the previous one has finished (never two at once),
 *   on an unref'd timer: an idle feed holds no timer, and a busy one never keeps the
 *   process alive;
 * - while a sync is in flight (state `SYNC_INITIALIZING`), the next poll comes sooner:
 *   SYNC_POLL_FIRST_MS after the last, doubling each time up to `pollMs`. A sync of a few
 *   hundred milliseconds then reaches subscribers within about that long instead of at the
 *   next regular poll. It is still the one loop: at most one poll in flight, and a sync
 *   that never ends costs log2(pollMs / SYNC_POLL_FIRST_MS) extra polls before the loop is
 *   back at `pollMs`. A nudge (a write) starts the short steps again.
 *
 * Polls are not made for any request: they carry their own request id and a fresh deadline
 * each, so a subscription outlives REQUEST_TIMEOUT_MS, and `close()` aborts the one in flight.
 */

/** What subscribers receive: a status, or the upstream failure of the latest poll. */
export type AzureStatusEvent = { status: CloudStatus; error?: undefined } | { status?: undefined; error: Error };

export interface AzureStatusFeed {
  /** The current status (or error) at once, then every change, until the caller returns or the feed closes. */
  subscribe(): AsyncIterableIterator<AzureStatusEvent>;
  /**
   * Polls now instead of at the next tick, because a write may have changed the status
   * (`syncAzureAccounts`, `setAzureSyncEnabled`). No-op while nobody is subscribed.
   */
  nudge(): void;
  /** Ends every subscriber's stream (each gets `complete`) and stops polling for good. Idempotent. */
  close(): void;
  /** Open subscriptions (for logs and tests). */
  readonly subscribers: number;
}

export interface AzureStatusFeedOptions {
  /** The NPM client's `getStatus`. */
  getStatus(call: CallContext): Promise<CloudStatus>;
  /** AZURE_STATUS_POLL_MS: time from the end of one poll to the start of the next. */
  pollMs: number;
  /** Deadline of one poll, retries included (REQUEST_TIMEOUT_MS, like any request). */
  pollTimeoutMs: number;
  logger: Logger;
}

/** The first short step while a sync is in flight; each next step doubles, up to `pollMs`. */
export const SYNC_POLL_FIRST_MS = 250;

/** Sent upstream as `x-request-id` and bound to every log line of the poller. */
export const POLLER_REQUEST_ID = 'azure-status-poller';

/**
 * Events a subscriber may have waiting before the oldest are dropped. Changes come at most
 * once per poll, so only a client that stopped reading falls this far behind, and what it
 * needs then is the newest status, not an unbounded backlog in the gateway's memory.
 */
const SUBSCRIBER_BUFFER = 8;

function sameInstant(a: Date | null, b: Date | null): boolean {
  return a === b || (a !== null && b !== null && a.getTime() === b.getTime());
}

function sameStatus(a: CloudStatus, b: CloudStatus): boolean {
  return (
    a.enabled === b.enabled &&
    a.state === b.state &&
    a.errorId === b.errorId &&
    a.errorText === b.errorText &&
    sameInstant(a.lastSyncAt, b.lastSyncAt) &&
    sameInstant(a.lastSuccessAt, b.lastSuccessAt)
  );
}

/** Two events a subscriber would see as the same (status field by field, or the same error code). */
export function isSameEvent(a: AzureStatusEvent | undefined, b: AzureStatusEvent): boolean {
  if (a === undefined) return false;
  if (a.status !== undefined && b.status !== undefined) return sameStatus(a.status, b.status);
  // "The same error" is one that shows the same GraphQL error code.
  if (a.error !== undefined && b.error !== undefined) return codeOf(a.error) === codeOf(b.error);
  return false;
}

interface Subscriber {
  push(event: AzureStatusEvent): unknown;
  stop(): void;
}

export function createAzureStatusFeed({
  getStatus,
  pollMs,
  pollTimeoutMs,
  logger,
}: AzureStatusFeedOptions): AzureStatusFeed {
  const log = logger.child({ requestId: POLLER_REQUEST_ID });
  const subscribers = new Set<Subscriber>();
  const closing = new AbortController();
  /** The last poll's outcome; undefined while nobody is subscribed or before the first poll. */
  let current: AzureStatusEvent | undefined;
  let inFlight: Promise<void> | undefined;
  /** A nudge arrived while a poll was in flight: that poll may have read the status before the write. */
  let pollAgain = false;
  let timer: NodeJS.Timeout | undefined;
  /** Short polls made since the status went (or a write nudged it) to SYNC_INITIALIZING. */
  let syncSteps = 0;

  /** Time to the next poll: short steps while a sync runs, the regular interval otherwise. */
  function nextDelay(): number {
    if (current?.status?.state !== 'SYNC_INITIALIZING') {
      syncSteps = 0;
      return pollMs;
    }
    // The exponent stops growing once the step has reached pollMs (no overflow to Infinity).
    const delay = Math.min(pollMs, SYNC_POLL_FIRST_MS * 2 ** syncSteps);
    if (delay < pollMs) syncSteps++;
    return delay;
  }

  function publish(event: AzureStatusEvent): void {
    if (isSameEvent(current, event)) return;
    if (event.error !== undefined) {
      const code = codeOf(event.error);
      if (code === 'INTERNAL_SERVER_ERROR') log.error({ err: event.error }, 'azure status poll failed unexpectedly');
      else log.warn({ code }, 'azure status poll failed; subscribers get the error until NPM answers again');
    } else if (current?.error !== undefined) {
      log.info('azure status poll recovered');
    }
    current = event;
    for (const subscriber of subscribers) void subscriber.push(event);
  }

  function schedule(): void {
    if (closing.signal.aborted || subscribers.size === 0 || timer !== undefined || inFlight !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void poll();
    }, nextDelay());
    timer.unref();
  }

  function poll(): Promise<void> {
    if (inFlight !== undefined) return inFlight;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const call: CallContext = {
      requestId: POLLER_REQUEST_ID,
      log,
      signal: closing.signal,
      deadline: Date.now() + pollTimeoutMs,
    };
    inFlight = getStatus(call).then(
      (status) => settle({ status }),
      (err: unknown) => settle({ error: err instanceof Error ? err : new Error(String(err)) }),
    );
    return inFlight;
  }

  function settle(event: AzureStatusEvent): void {
    inFlight = undefined;
    if (closing.signal.aborted) return;
    // Everyone left while this poll ran: its answer would be stale by the next subscriber.
    if (subscribers.size === 0) {
      current = undefined;
      pollAgain = false;
      return;
    }
    publish(event);
    if (pollAgain) {
      pollAgain = false;
      void poll();
    } else {
      schedule();
    }
  }

  function leave(subscriber: Subscriber): void {
    if (!subscribers.delete(subscriber) || subscribers.size > 0) return;
    // The last one left: no polling, and nothing kept that would go stale.
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    current = undefined;
    log.debug('last azure status subscriber left; polling stopped');
  }

  return {
    subscribe() {
      return new Repeater<AzureStatusEvent>(async (push, stop) => {
        if (closing.signal.aborted) return stop();
        const subscriber: Subscriber = { push, stop };
        subscribers.add(subscriber);
        if (subscribers.size === 1) log.debug({ pollMs }, 'first azure status subscriber; polling started');
        // The last known value at once; otherwise the poll in flight (or a new one) brings
        // the first value to every subscriber waiting for it.
        if (current !== undefined) void push(current);
        else void poll();
        await stop;
        leave(subscriber);
      }, new SlidingBuffer(SUBSCRIBER_BUFFER));
    },

    nudge() {
      if (closing.signal.aborted || subscribers.size === 0) return;
      syncSteps = 0;
      if (inFlight !== undefined) pollAgain = true;
      else void poll();
    },

    close() {
      if (closing.signal.aborted) return;
      closing.abort();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      current = undefined;
      for (const subscriber of [...subscribers]) subscriber.stop();
      subscribers.clear();
    },

    get subscribers() {
      return subscribers.size;
    },
  };
}
