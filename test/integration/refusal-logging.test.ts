import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VIEWER_KEY, codes, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * Issue 11: "every refusal is logged once, rate-limited so an attack cannot flood the log".
 * GraphQL's own limits (demand control, the request budget) go through the same refusal
 * log as the HTTP front's: one warn line per (reason, caller) per interval naming the
 * request id, the caller and the limit, and one summary line counting the rest.
 */

interface Line {
  level: number;
  msg: string;
  reason?: string;
  requestId?: string;
  caller?: string;
  limit?: string;
  max?: number;
  cost?: number;
  suppressed?: Record<string, number>;
}

/** Log lines at warn level or above, parsed. */
function loud(lines: string[]): Line[] {
  return lines.map((l) => JSON.parse(l) as Line).filter((l) => l.level >= 40);
}

// Cost 131 001 on any tenant: over the default MAX_OPERATION_COST of 50 000.
const COSTLY = '{ users(pageSize: 1000) { nodes { groups { users { id } } } } }';

/** The refusal lines and the summaries' counts for one reason, from `from` on. */
function tally(stack: Stack, from: number, reason: string) {
  const lines = loud(stack.logs.slice(from));
  const logged = lines.filter((l) => l.msg === 'request refused' && l.reason === reason);
  const counted = lines.reduce((n, l) => n + (l.suppressed?.[reason] ?? 0), 0);
  return { lines, logged, counted };
}

describe('refusals by GraphQL limits are logged once per caller and interval, the rest counted', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { REFUSAL_LOG_INTERVAL_S: '2', MAX_UPSTREAM_CALLS_PER_REQUEST: '2' },
      logLevel: 'info',
    });
  });
  afterAll(() => stack.close());

  it('a flood of 200 over-cost documents writes one line naming the request, the caller and the limit per interval, and summaries counting the rest', async () => {
    const from = stack.logs.length;
    stack.resetCounts();
    const ids: string[] = [];
    // 10 waves of 20 at once: bounded in count, and each is refused before execution.
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => stack.gql(COSTLY)));
      for (const res of answers) {
        expect(res.status).toBe(400);
        expect(codes(res)).toEqual(['COST_LIMIT_EXCEEDED']);
        ids.push(String(res.headers['x-request-id']));
      }
    }
    expect(stack.calls()).toEqual({});
    // Every refusal is either its caller's one line of an interval or counted in a summary
    // when that interval ends.
    await vi.waitFor(
      () => {
        const { logged, counted } = tally(stack, from, 'cost_limit');
        expect(logged.length + counted).toBe(200);
      },
      { timeout: 15_000, interval: 100 },
    );
    const { lines, logged } = tally(stack, from, 'cost_limit');
    // One line per interval the flood lasted (it usually fits in one): not 200.
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThanOrEqual(3);
    expect(logged[0]).toMatchObject({
      reason: 'cost_limit',
      caller: 'test-admin',
      limit: 'MAX_OPERATION_COST',
      max: 50_000,
      cost: 131_001,
    });
    for (const line of logged) expect(ids).toContain(line.requestId);
    // Nothing else was logged at warn or above: the refusal lines and their summaries only.
    expect(lines.length).toBeLessThanOrEqual(2 * logged.length);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('over-budget requests are logged the same way, once per caller: two callers, two lines, the rest counted', async () => {
    // Three single GETs against a budget of two upstream calls.
    const query = '{ a: user(id: "u-0001") { email } b: user(id: "u-0002") { email } c: user(id: "u-0003") { email } }';
    const from = stack.logs.length;
    const admin = await Promise.all(Array.from({ length: 10 }, () => stack.gql(query)));
    const viewer = await Promise.all(
      Array.from({ length: 10 }, () => stack.gql(query, undefined, { authorization: `Bearer ${VIEWER_KEY}` })),
    );
    for (const res of [...admin, ...viewer]) expect(codes(res)).toEqual(['REQUEST_BUDGET_EXCEEDED']);
    await vi.waitFor(
      () => {
        const { logged, counted } = tally(stack, from, 'request_budget');
        expect(logged.length + counted).toBe(20);
      },
      { timeout: 15_000, interval: 100 },
    );
    const { logged } = tally(stack, from, 'request_budget');
    expect(logged.length).toBeLessThanOrEqual(4);
    const first = (caller: string) => logged.find((l) => l.caller === caller);
    expect(first('test-admin')).toMatchObject({ limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST', max: 2 });
    expect(first('test-viewer')).toMatchObject({ limit: 'MAX_UPSTREAM_CALLS_PER_REQUEST', max: 2 });
    expect(admin.map((r) => r.headers['x-request-id'])).toContain(first('test-admin')!.requestId);
    expect(viewer.map((r) => r.headers['x-request-id'])).toContain(first('test-viewer')!.requestId);
  });
});
