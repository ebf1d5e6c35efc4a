import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AttemptSignal } from '../../src/upstreams/attempt-signal.js';

describe('an upstream attempt signal', () => {
  it('aborts at its own deadline, and says so', async () => {
    const attempt = new AttemptSignal(20, []);
    expect(attempt.signal.aborted).toBe(false);
    await sleep(60);
    expect(attempt.signal.aborted).toBe(true);
    expect(attempt.timedOut).toBe(true);
    expect((attempt.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it("aborts with a parent's reason when the request stops, which is not a timeout", () => {
    const request = new AbortController();
    const attempt = new AttemptSignal(10_000, [undefined, request.signal]);
    const reason = new Error('over budget');
    request.abort(reason);
    expect(attempt.signal.aborted).toBe(true);
    expect(attempt.signal.reason).toBe(reason);
    expect(attempt.timedOut).toBe(false);
    attempt.dispose();
  });

  it('starts aborted when a parent already is', () => {
    const attempt = new AttemptSignal(10_000, [AbortSignal.abort('gone')]);
    expect(attempt.signal.aborted).toBe(true);
    expect(attempt.signal.reason).toBe('gone');
    attempt.dispose();
  });

  it('once disposed, neither its timer nor its parents reach it', async () => {
    const request = new AbortController();
    const attempt = new AttemptSignal(20, [request.signal]);
    attempt.dispose();
    request.abort();
    await sleep(60);
    expect(attempt.signal.aborted).toBe(false);
    expect(attempt.timedOut).toBe(false);
  });
});
