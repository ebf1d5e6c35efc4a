import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { UpstreamError } from '../../src/upstreams/upstream-error.js';
import { POLLER_REQUEST_ID, SYNC_POLL_FIRST_MS, createAzureStatusFeed } from '../../src/live/azure-status-feed.js';
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
function feedOver(up: ReturnType<typeof upstream>, pollMs = POLL_MS): AzureStatusFeed {
  const feed = createAzureStatusFeed({
    getStatus: up.getStatus,
    pollMs,
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
    // SYNC_FAILED, not SYNC_INITIALIZING: a running sync is polled on shorter steps (below).
    const up = upstream([status('SYNC_SUCCEEDED'), status('SYNC_SUCCEEDED'), status('SYNC_FAILED')]);
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
    expect(sub.states()).toEqual(['SYNC_SUCCEEDED', 'SYNC_FAILED']);
    // Back to the normal rhythm: the next poll one interval after the last, not at the old tick.
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(up.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(up.calls).toHaveLength(4);
  });

  /** Advances the clock until the next poll starts; returns how long that took. */
  async function untilNextPoll(up: ReturnType<typeof upstream>, limitMs: number): Promise<number> {
    const before = up.calls.length;
    for (let waited = 1; waited <= limitMs; waited++) {
      await vi.advanceTimersByTimeAsync(1);
      if (up.calls.length > before) return waited;
    }
    return Infinity;
  }

  it('while a sync runs, polls after 250, 500, 1000, 2000 ms, then every interval; back to the interval once it ends', async () => {
    const regular = 5_000;
    const up = upstream([
      status('SYNC_SUCCEEDED', 1),
      ...Array.from({ length: 6 }, () => status('SYNC_INITIALIZING', 2)),
      status('SYNC_SUCCEEDED', 2),
    ]);
    const sub = subscriber(feedOver(up, regular));
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    expect(await untilNextPoll(up, regular)).toBe(regular);
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      await up.answer(); // SYNC_INITIALIZING
      gaps.push(await untilNextPoll(up, regular));
    }
    expect(gaps).toEqual([SYNC_POLL_FIRST_MS, 500, 1_000, 2_000, 4_000, regular]);
    await up.answer(); // SYNC_SUCCEEDED
    expect(await untilNextPoll(up, regular)).toBe(regular);
    expect(sub.states()).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING', 'SYNC_SUCCEEDED']);
    // One timer, whatever the step.
    expect(vi.getTimerCount()).toBeLessThanOrEqual(1);
  });

  it('a write during a long sync starts the short steps again', async () => {
    const regular = 5_000;
    const up = upstream([status('SYNC_INITIALIZING', 2)]);
    const feed = feedOver(up, regular);
    subscriber(feed);
    await vi.advanceTimersByTimeAsync(0);
    await up.answer();
    expect(await untilNextPoll(up, regular)).toBe(250);
    await up.answer();
    expect(await untilNextPoll(up, regular)).toBe(500);
    await up.answer();
    feed.nudge();
    expect(up.calls).toHaveLength(4);
    await up.answer();
    expect(await untilNextPoll(up, regular)).toBe(250);
  });

  it('a sync seen by 100 subscribers is still one poll at a time, the same count as for one', async () => {
    const regular = 5_000;
    const script = () => [
      status('SYNC_SUCCEEDED', 1),
      status('SYNC_INITIALIZING', 2),
      status('SYNC_INITIALIZING', 2),
      status('SYNC_SUCCEEDED', 2),
    ];
    const one = upstream(script());
    const many = upstream(script());
    subscriber(feedOver(one, regular));
    const manyFeed = feedOver(many, regular);
    const subs = Array.from({ length: 100 }, () => subscriber(manyFeed));
    await vi.advanceTimersByTimeAsync(0);
    for (let ms = 0; ms < 3 * regular; ms += 50) {
      await one.answer();
      await many.answer();
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(many.calls.length).toBe(one.calls.length);
    // The first fetch, the poll that sees the sync start, 250 ms later (still running), 500 ms
    // later (done), then one regular interval on: five, for 1 or 100 subscribers.
    expect(one.calls.length).toBe(5);
    expect(subs.every((s) => s.states().join() === 'SYNC_SUCCEEDED,SYNC_INITIALIZING,SYNC_SUCCEEDED')).toBe(true);
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
