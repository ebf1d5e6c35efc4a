import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../helpers/fleet.js';
import type { Fleet } from '../helpers/fleet.js';
import { codes } from '../helpers/stack.js';

// A burst that refills over 9 s: the volley's budget stays rps + burst however slowly a
// loaded machine sends it (up to a few seconds), so the count does not depend on timing.
const RPS = 1;
const BURST = 9;

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet({ replicas: 2, env: { RATE_LIMIT_RPS: String(RPS), RATE_LIMIT_BURST: String(BURST) } });
}, 120_000);
afterAll(() => fleet?.close());

describe('one rate-limit budget per caller across replicas (Redis)', () => {
  it('40 requests at once, alternating over two replicas, admit rps + burst (within 20%), not twice that', async () => {
    // Per-process budgets would admit (RPS + BURST) per replica: 20 of 40.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => fleet.gql(fleet.replicas[i % 2]!.url, '{ __typename }')),
    );
    const admitted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(admitted + refused.length).toBe(40);
    expect(refused.every((r) => codes(r)[0] === 'RATE_LIMITED' && r.headers['retry-after'] !== undefined)).toBe(true);
    // Printed for the figures in the closing note.
    console.info(`rate limit across 2 replicas: ${admitted} of 40 admitted (budget ${RPS + BURST})`);
    expect(admitted).toBeGreaterThanOrEqual(Math.floor((RPS + BURST) * 0.8));
    expect(admitted).toBeLessThanOrEqual(Math.ceil((RPS + BURST) * 1.2));
  });
});
