import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { POLLER_REQUEST_ID, createAzureStatusFeed } from '../../src/live/azure-status-feed.js';
import type { AzureStatusEvent, AzureStatusFeed } from '../../src/live/azure-status-feed.js';
import type { CallContext } from '../../src/upstreams/http.js';
import type { CloudStatus } from '../../src/upstreams/npm/types.js';

const POLL_MS = 1_000;

function status(state: CloudStatus['state'], lastSyncS = 1_000): CloudStatus {
  return {
    enabled: state !== 'SYNC_DISABLED',
    state,
    errorId: 0,
    errorText: 'OK',
    // A new Date per answer, as the wire parser makes: equal values must still count as "no change".
    lastSyncAt: new Date(lastSyncS * 1000),
    lastSuccessAt: new Date(lastSyncS * 1000),
  };
}

/**
 * A scripted `getStatus`: each call takes the next answer (the last one repeats) and
 * resolves when the test says so, so "in flight" is a state the test controls.
 */
function upstream(answers: Array<CloudStatus | Error>) {
  const calls: CallContext[] = [];
  const pending: Array<() => void> = [];
  let next = 0;
  const getStatus = (call: CallContext) => {
    calls.push(call);
    const answer = answers[Math.min(next++, answers.length - 1)]!;
    return new Promise<CloudStatus>((resolve, reject) => {
      const settle = () => (answer instanceof Error ? reject(answer) : resolve(answer));
      pending.push(settle);
      call.signal?.addEventListener('abort', () => reject(new UpstreamError('unavailable', 'npm')));
    });
  };
  return {
    getStatus,
    calls,
    /** Answers every call in flight. */
    answer: async () => {
      for (const settle of pending.splice(0)) settle();
      await vi.advanceTimersByTimeAsync(0);
    },
  };
}

/** A subscriber that records what it receives. */
function subscriber(feed: AzureStatusFeed) {
  const iterator = feed.subscribe();
  const received: AzureStatusEvent[] = [];
  let ended = false;
  void (async () => {
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) received.push(r.value);
    ended = true;
  })();
  return {
    received,
    states: () => received.map((e) => e.status?.state ?? `error:${(e.error as UpstreamError).failure}`),
    ended: () => ended,
    leave: async () => {
      await iterator.return?.();
      await vi.advanceTimersByTimeAsync(0);
    },
  };
}

let feeds: AzureStatusFeed[] = [];
function feedOver(up: ReturnType<typeof upstream>): AzureStatusFeed {
  const feed = createAzureStatusFeed({
    getStatus: up.getStatus,
    pollMs: POLL_MS,
    pollTimeoutMs: 5_000,
    logger: pino({ level: 'silent' }),
  });
  feeds.push(feed);
  return feed;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const feed of feeds) feed.close();
  feeds = [];
  vi.useRealTimers();
});

describe('azure status feed', () => {
  it('holds no timer and makes no call while nobody is subscribed', async () => {
    const up = upstream([status('SYNC_SUCCEEDED')]);
    const feed = feedOver(up);
    feed.nudge();
    await vi.advanceTimersByTimeAsync(10 * POLL_MS);
    expect(up.calls).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('concurrent first subscribers share one fetch, then one poll per interval serves them all', async () => {
    const up = upstream([status('SYNC_SUCCEEDED')]);
    const feed = feedOver(up);
    const subs = Array.from({ length: 100 }, () => subscriber(feed));
    await vi.advanceTimersByTimeAsync(0);
    expect(up.calls).toHaveLength(1);
    await up.answer();
    expect(subs.every((s) => s.received.length === 1)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(POLL_MS);
      await up.answer();
    }
    expect(up.calls).toHaveLength(6);
    // Unchanged status: nothing more was pushed.
    expect(subs.every((s) => s.received.length === 1)).toBe(true);
  });

  it('polls with its own request id and a fresh deadline each time (not a request deadline)', async () => {
    const up = upstream([status('SYNC_SUCCEEDED')]);
    subscriber(feedOver(up));
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(up.calls.map((c) => c.requestId)).toEqual([POLLER_REQUEST_ID, POLLER_REQUEST_ID]);
    expect(up.calls[1]!.deadline! - up.calls[0]!.deadline!).toBeGreaterThanOrEqual(POLL_MS);
    expect(up.calls[0]!.signal?.aborted).toBe(false);
  });

  it('gives a late joiner the last known status at once, without a fetch', async () => {
    const up = upstream([status('SYNC_SUCCEEDED')]);
    const feed = feedOver(up);
    subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    await vi.advanceTimersByTimeAsync(POLL_MS / 2);
    const late = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.states()).toEqual(['SYNC_SUCCEEDED']);
    expect(up.calls).toHaveLength(1);
  });

  it('pushes only changes, compared by value', async () => {
    const up = upstream([
      status('SYNC_SUCCEEDED', 1),
      status('SYNC_SUCCEEDED', 1),
      status('SYNC_INITIALIZING', 2),
      status('SYNC_INITIALIZING', 2),
      status('SYNC_SUCCEEDED', 2),
    ]);
    const sub = subscriber(feedOver(up));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 5; i++) {
      await up.answer();
      await vi.advanceTimersByTimeAsync(POLL_MS);
    }
    expect(sub.states()).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING', 'SYNC_SUCCEEDED']);
  });

  it('turns poll failures into one event per error code and pushes the status again on recovery', async () => {
    const up = upstream([
      status('SYNC_SUCCEEDED'),
      new UpstreamError('http', 'npm', { status: 500, errorId: 'INTERNAL_ERROR' }),
      new UpstreamError('http', 'npm', { status: 502 }),
      new UpstreamError('timeout', 'npm'),
      new UpstreamError('timeout', 'npm'),
      status('SYNC_SUCCEEDED'),
    ]);
    const sub = subscriber(feedOver(up));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 6; i++) {
      await up.answer();
      await vi.advanceTimersByTimeAsync(POLL_MS);
    }
    // 500 and 502 are both UPSTREAM_ERROR: one event; the timeouts another; the same status as before the outage comes again.
    expect(sub.states()).toEqual(['SYNC_SUCCEEDED', 'error:http', 'error:timeout', 'SYNC_SUCCEEDED']);
    expect(sub.ended()).toBe(false);
  });

  it('stops polling when the last subscriber leaves, and a new first subscriber fetches anew', async () => {
    const up = upstream([status('SYNC_SUCCEEDED'), status('SYNC_SUCCEEDED'), status('SYNC_DISABLED')]);
    const feed = feedOver(up);
    const a = subscriber(feed);
    const b = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    await a.leave();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    await up.answer();
    expect(up.calls).toHaveLength(2);
    await b.leave();
    expect(feed.subscribers).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * POLL_MS);
    expect(up.calls).toHaveLength(2);

    const c = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    expect(c.received).toHaveLength(0); // nothing stale: it waits for the fresh fetch
    expect(up.calls).toHaveLength(3);
    await up.answer();
    expect(c.states()).toEqual(['SYNC_DISABLED']);
  });

  it('drops the answer of a poll that outlived its last subscriber', async () => {
    const up = upstream([status('SYNC_SUCCEEDED'), status('SYNC_FAILED')]);
    const feed = feedOver(up);
    const a = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    await a.leave();
    await up.answer();
    expect(vi.getTimerCount()).toBe(0);
    const b = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    expect(up.calls).toHaveLength(2);
    await up.answer();
    expect(b.states()).toEqual(['SYNC_FAILED']);
  });

  it('a nudge polls at once; during a poll it polls once more right after', async () => {
    const up = upstream([status('SYNC_SUCCEEDED'), status('SYNC_SUCCEEDED'), status('SYNC_INITIALIZING')]);
    const feed = feedOver(up);
    const sub = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    await vi.advanceTimersByTimeAsync(POLL_MS / 2);
    feed.nudge();
    expect(up.calls).toHaveLength(2);
    feed.nudge();
    feed.nudge();
    expect(up.calls).toHaveLength(2);
    await up.answer();
    expect(up.calls).toHaveLength(3);
    await up.answer();
    expect(sub.states()).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING']);
    // Back to the normal rhythm: the next poll one interval after the last, not at the old tick.
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(up.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(up.calls).toHaveLength(4);
  });

  it('close() completes every stream, aborts the poll in flight and refuses new subscribers', async () => {
    const up = upstream([status('SYNC_SUCCEEDED')]);
    const feed = feedOver(up);
    const subs = [subscriber(feed), subscriber(feed)];
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(up.calls[1]!.signal?.aborted).toBe(false);
    feed.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(up.calls[1]!.signal?.aborted).toBe(true);
    expect(subs.every((s) => s.ended())).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    const late = subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.ended()).toBe(true);
    expect(late.received).toHaveLength(0);
    expect(up.calls).toHaveLength(2);
  });
});

describe('AZURE_STATUS_POLL_MS', () => {
  const base = { NPM_BASE_URL: 'https://npm.example.com', NPM_ACCESS_TOKEN: 't', AXIS_API_TOKEN: 'a' };

  it('defaults to 5 s and accepts milliseconds', () => {
    expect(loadConfig(base).azureStatusPollMs).toBe(5_000);
    expect(loadConfig({ ...base, AZURE_STATUS_POLL_MS: '250' }).azureStatusPollMs).toBe(250);
  });

  it('refuses values that are not a sane interval', () => {
    for (const bad of ['0', '10', 'soon', '1.5']) {
      expect(() => loadConfig({ ...base, AZURE_STATUS_POLL_MS: bad })).toThrow(ConfigError);
    }
  });
});
