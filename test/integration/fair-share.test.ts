import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../helpers/stack.js';
import type { GraphQLResponse, Stack } from '../helpers/stack.js';

/**
 * Issue 11: each request gets "a fair share of the upstream bulkhead, so one request cannot
 * fill the queue". Measured where it matters, at the IdP simulator: the most calls carrying
 * one request's `x-request-id` that were in flight at once. The simulator answers after
 * 150 ms, so calls that may overlap do overlap; the tenant has 3000 users.
 */

/** Seven users of one tenant: below the list shortcut (8 ids), so one GET each, all at once if allowed. */
const IDS = ['u-0011', 'u-0222', 'u-0433', 'u-1044', 'u-1655', 'u-2266', 'u-2877'];
const FAN_OUT = `{ ${IDS.map((id, i) => `u${i}: user(id: "${id}") { email }`).join(' ')} }`;
const SIMPLE = '{ user(id: "u-0100") { email } }';

async function startFleetOfOne(perRequest: number): Promise<Stack> {
  const stack = await startStack({
    axis: { seedUsers: 3000 },
    // The whole bulkhead is 4 slots per upstream; one request may hold `perRequest` of them.
    env: { UPSTREAM_MAX_CONCURRENCY: '4', UPSTREAM_MAX_CONCURRENCY_PER_REQUEST: String(perRequest) },
    logLevel: 'warn',
  });
  stack.axisSim.setLatency(150);
  return stack;
}

function emails(res: GraphQLResponse): unknown[] {
  return Object.values(res.body.data ?? {}).map((u) => (u as { email: string }).email);
}

describe('the per-request share of the upstream bulkhead (UPSTREAM_MAX_CONCURRENCY_PER_REQUEST)', () => {
  let fair: Stack;
  let unshared: Stack;
  beforeAll(async () => {
    [fair, unshared] = await Promise.all([startFleetOfOne(2), startFleetOfOne(16)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([fair?.close(), unshared?.close()]);
  });

  it('a request fanning out to 7 GETs never has more than 2 in flight, and a concurrent caller is answered before it ends', async () => {
    fair.resetCounts();
    const finished: string[] = [];
    const attack = fair.gql(FAN_OUT, undefined, { 'x-request-id': 'fan-out-1' }).then((res) => {
      finished.push('fan-out');
      return res;
    });
    // Once the fan-out holds its share, another caller asks for one user.
    await expect.poll(() => fair.axisSim.peakInFlight('fan-out-1'), { timeout: 10_000, interval: 10 }).toBe(2);
    const simple = await fair.gql(SIMPLE, undefined, { 'x-request-id': 'simple-1' });
    finished.push('simple');
    const res = await attack;

    expect(res.body.errors).toBeUndefined();
    expect(emails(res)).toHaveLength(7);
    expect(simple.body.data).toEqual({ user: { email: expect.stringContaining('@') } });
    expect(fair.calls()).toEqual({ 'axis:users.get': 8, 'axis:total': 8 });
    // Measured at the IdP: the fan-out held 2 of the 4 slots at most, so the other caller
    // found one free and was answered while the fan-out still had GETs to make (4 rounds).
    expect(fair.axisSim.peakInFlight('fan-out-1')).toBe(2);
    expect(fair.axisSim.peakInFlight('simple-1')).toBe(1);
    expect(finished).toEqual(['simple', 'fan-out']);
  });

  it('with a share as large as the bulkhead, the same request holds all 4 slots at once (what the share prevents)', async () => {
    unshared.resetCounts();
    const res = await unshared.gql(FAN_OUT, undefined, { 'x-request-id': 'fan-out-2' });
    expect(emails(res)).toHaveLength(7);
    // The bulkhead's 4 slots are then the only bound, and one request holds them all.
    expect(unshared.axisSim.peakInFlight('fan-out-2')).toBe(4);
    expect(unshared.calls()).toEqual({ 'axis:users.get': 7, 'axis:total': 7 });
  });
});
