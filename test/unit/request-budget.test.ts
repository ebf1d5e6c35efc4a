import { describe, expect, it } from 'vitest';
import { ENTITIES_PER_TURN, RequestBudget } from '../../src/request-budget.js';

const limits = { maxUpstreamCalls: 3, maxEntities: 10, maxConcurrentCalls: 2 };

describe('RequestBudget', () => {
  it('refuses the call past MAX_UPSTREAM_CALLS_PER_REQUEST, aborts the signal and refuses every later one', () => {
    const budget = new RequestBudget(limits);
    for (let i = 0; i < 3; i++) budget.chargeCall();
    expect(budget.signal.aborted).toBe(false);
    expect(() => budget.chargeCall()).toThrow(/more than 3 upstream calls \(MAX_UPSTREAM_CALLS_PER_REQUEST\)/);
    expect(budget.signal.aborted).toBe(true);
    expect(budget.breach).toEqual({ limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST', max: 3 });
    try {
      budget.chargeCall();
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({
        extensions: { code: 'REQUEST_BUDGET_EXCEEDED', limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST' },
      });
    }
    expect(budget.upstreamCalls).toBe(4);
  });

  it('counts entities up to MAX_RESPONSE_ENTITIES, then says no and stops the request', () => {
    const budget = new RequestBudget(limits);
    expect(budget.chargeEntities(6)).toBe(true);
    expect(budget.chargeEntities(4)).toBe(true);
    expect(budget.stopped).toBe(false);
    expect(budget.chargeEntities(1)).toBe(false);
    expect(budget.breach).toEqual({ limit: 'MAX_RESPONSE_ENTITIES', max: 10 });
    expect(budget.signal.aborted).toBe(true);
    // Placeholders only where the answer is discarded (a query): a mutation keeps real errors.
    expect(budget.stopped).toBe(false);
    budget.discardsAnswer = true;
    expect(budget.stopped).toBe(true);
    expect(() => budget.chargeCall()).toThrow(/MAX_RESPONSE_ENTITIES/);
  });

  it('runs at most UPSTREAM_MAX_CONCURRENCY_PER_REQUEST calls at once, the rest in order after them', async () => {
    const budget = new RequestBudget({ ...limits, maxUpstreamCalls: 100 });
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const release: Array<() => void> = [];
    const calls = Array.from({ length: 6 }, (_, i) =>
      budget.throttle(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
        return i;
      }, new AbortController().signal),
    );
    for (let round = 0; round < 3; round++) {
      await expect.poll(() => release.length).toBe(2 * (round + 1));
      expect(running).toBe(2);
      release[2 * round]!();
      release[2 * round + 1]!();
    }
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a queued call whose signal aborts never runs', async () => {
    const budget = new RequestBudget({ ...limits, maxConcurrentCalls: 1 });
    let release!: () => void;
    const first = budget.throttle(
      () => new Promise<void>((resolve) => (release = resolve)),
      new AbortController().signal,
    );
    const stop = new AbortController();
    let ran = false;
    const second = budget.throttle(async () => {
      ran = true;
    }, stop.signal);
    stop.abort();
    // cockatiel checks the signal when a slot frees: the waiting call is then dropped, unrun.
    release();
    await first;
    await expect(second).rejects.toThrow();
    expect(ran).toBe(false);
  });
});

/** One turn of the event loop: what a paced value waits for. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('RequestBudget pacing: a big answer over turns of the event loop', () => {
  const roomy = { maxUpstreamCalls: 100, maxEntities: 100_000, maxConcurrentCalls: 4 };
  const list = (n: number) => Array.from({ length: n }, (_, i) => i);

  it('hands lists on at once while the turn has room, then one slice per turn, in order', async () => {
    const budget = new RequestBudget(roomy);
    const small = list(ENTITIES_PER_TURN - 100);
    expect(budget.admit(small)).toBe(small);
    const order: number[] = [];
    const waiting = [300, 200, ENTITIES_PER_TURN, 50].map((n, i) =>
      Promise.resolve(budget.admit(list(n))).then((l) => (order.push(i), l)),
    );
    // Microtasks alone never release them: only a later turn of the event loop does.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(order).toEqual([]);
    await nextTurn();
    expect(order).toEqual([0, 1]); // 300 + 200 fill the next turn's slice
    await nextTurn();
    expect(order).toEqual([0, 1, 2]);
    await nextTurn();
    expect(order).toEqual([0, 1, 2, 3]);
    expect((await Promise.all(waiting)).map((l) => l.length)).toEqual([300, 200, ENTITIES_PER_TURN, 50]);
    expect(budget.entities).toBe(small.length + 300 + 200 + ENTITIES_PER_TURN + 50);
  });

  it('lets a list longer than a slice through alone, a turn later', async () => {
    const budget = new RequestBudget(roomy);
    const long = list(ENTITIES_PER_TURN * 3);
    const paced = budget.admit(long);
    expect(paced).toBeInstanceOf(Promise);
    await nextTurn();
    expect(await paced).toBe(long);
  });

  it('paces single entities too (a loader batch of thousands): one slice of them per turn', async () => {
    const budget = new RequestBudget(roomy);
    const released: number[] = [];
    const all = list(ENTITIES_PER_TURN * 3).map((i) => Promise.resolve(budget.pace(i)).then(() => released.push(i)));
    await Promise.resolve();
    expect(released).toHaveLength(ENTITIES_PER_TURN);
    await nextTurn();
    expect(released).toHaveLength(ENTITIES_PER_TURN * 2);
    await nextTurn();
    await Promise.all(all);
    expect(released).toEqual(list(ENTITIES_PER_TURN * 3));
  });

  it('a waiting list answers empty once the request went over its budget meanwhile', async () => {
    const budget = new RequestBudget({ ...roomy, maxEntities: ENTITIES_PER_TURN * 2 });
    expect(budget.admit(list(ENTITIES_PER_TURN))).toHaveLength(ENTITIES_PER_TURN);
    const waiting = budget.admit(list(ENTITIES_PER_TURN));
    expect(budget.admit(list(1))).toEqual([]); // over: 2 x ENTITIES_PER_TURN + 1
    expect(budget.breach).toMatchObject({ limit: 'MAX_RESPONSE_ENTITIES' });
    expect(await waiting).toEqual([]);
  });
});
