import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { AbortScope, AttemptSignal } from '../../src/upstreams/attempt-signal.js';

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

  it("a request's scope ends every running attempt when its budget is crossed, and refuses new ones", () => {
    const scope = new AbortScope();
    const read = new AttemptSignal(10_000, [], { scope, read: true });
    const write = new AttemptSignal(10_000, [], { scope, read: false });
    const done = new AttemptSignal(10_000, [], { scope, read: true });
    done.dispose();
    const reason = new Error('over budget');
    scope.endAll(reason);
    expect([read.signal.reason, write.signal.reason]).toEqual([reason, reason]);
    expect(done.signal.aborted).toBe(false);
    expect(read.timedOut || write.timedOut).toBe(false);
    const later = new AttemptSignal(10_000, [], { scope, read: false });
    expect(later.signal.reason).toBe(reason);
    for (const a of [read, write, later]) a.dispose();
  });

  it("a client leaving ends the request's reads only: a write already sent runs on", () => {
    const scope = new AbortScope();
    const read = new AttemptSignal(10_000, [], { scope, read: true });
    const write = new AttemptSignal(10_000, [], { scope, read: false });
    scope.endReads('gone');
    expect(read.signal.reason).toBe('gone');
    expect(write.signal.aborted).toBe(false);
    expect(new AttemptSignal(10_000, [], { scope, read: true }).signal.reason).toBe('gone');
    const laterWrite = new AttemptSignal(10_000, [], { scope, read: false });
    expect(laterWrite.signal.aborted).toBe(false);
    // The budget still ends the writes.
    scope.endAll('over');
    expect([write.signal.reason, laterWrite.signal.reason]).toEqual(['over', 'over']);
    for (const a of [read, write, laterWrite]) a.dispose();
  });

  it('is a signal undici takes: an abort ends a request in flight with its reason, a finished one lets go', async () => {
    // A real undici Pool against a loopback server: /slow never answers, /fast does.
    const server = createServer((req, res) => {
      if (req.url === '/fast') res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const fast = new AttemptSignal(10_000, []);
      const res = await pool.request({ method: 'GET', path: '/fast', signal: fast.signal.asSignal() });
      expect(await res.body.text()).toBe('ok');
      // undici removes its listener when the answer's stream closes: nothing is left to call.
      await sleep(10);
      expect(Reflect.get(fast.signal, 'listeners') ?? []).toHaveLength(0);
      fast.abort(new Error('late'));
      fast.dispose();

      const slow = new AttemptSignal(10_000, []);
      const pending = pool.request({ method: 'GET', path: '/slow', signal: slow.signal.asSignal() });
      await sleep(20);
      const reason = new Error('over budget');
      slow.abort(reason);
      await expect(pending).rejects.toBe(reason);
    } finally {
      await pool.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
