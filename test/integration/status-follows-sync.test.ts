import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSse } from '../helpers/sse.js';
import type { SseEvent } from '../helpers/sse.js';
import { ADMIN_KEY, startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

/**
 * The azureStatus subscription follows a sync on short steps: with the regular 5 s poll, a
 * 300 ms sync reaches subscribers as SYNC_SUCCEEDED after about a second (the polls at
 * +0, +250 and +750 ms), not at the next regular poll 5 s later. Real gateway, real NPM
 * simulator; the polls are counted at the simulator.
 */

const STATUS = 'subscription { azureStatus { state lastSyncAt } }';
const states = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'next')
    .map((e) => (e.data?.data?.['azureStatus'] as { state: string } | undefined)?.state ?? 'error');

describe('a subscriber follows a 300 ms sync (regular poll every 5 s)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { AZURE_STATUS_POLL_MS: '5000' }, npm: { syncDurationMs: 300 } });
  });
  afterAll(() => stack.close());

  it('sees SYNC_SUCCEEDED about a second after the sync started, in three or four polls', async () => {
    const sub = await openSse(stack.url, STATUS, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    try {
      await sub.waitFor((e) => e.length === 1);
      stack.resetCounts();
      const sync = await stack.gql('mutation { syncAzureAccounts { state } }');
      expect(sync.body.data).toEqual({ syncAzureAccounts: { state: 'SYNC_INITIALIZING' } });
      // Generous for two shared cores, and well under the 5 s the regular poll would take.
      await sub.waitFor((e) => states(e).at(-1) === 'SYNC_SUCCEEDED', 2_500);
      expect(states(sub.events)).toEqual(['SYNC_SUCCEEDED', 'SYNC_INITIALIZING', 'SYNC_SUCCEEDED']);
      // The mutation's own read, the nudged poll (SYNC_INITIALIZING), +250 ms (still running),
      // +500 ms (done); one more if a slow machine lets the sync outlast a step.
      const reads = stack.calls()['npm:status.get'] ?? 0;
      expect(reads).toBeGreaterThanOrEqual(3);
      expect(reads).toBeLessThanOrEqual(5);
    } finally {
      sub.close();
    }
  });
});
