import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack } from '../helpers/stack.js';
import type { Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const linesOf = (requestId: string) =>
  stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['requestId'] === requestId);

// The line a subscription writes when it ends is asserted in subscriptions.test.ts, next to
// the stream it describes.
describe('the operation log', () => {
  it('writes one info line per operation: its name, type and duration, never its variables', async () => {
    const res = await stack.gql(
      'query Probe($id: ID!) { user(id: $id) { id } }',
      { id: 'no-such-user-marker-7Qx' },
      { 'x-request-id': 'op-0001' },
    );
    expect(res.body).toEqual({ data: { user: null } });
    const ops = linesOf('op-0001').filter((l) => l['msg'] === 'graphql operation');
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ level: 30, operationName: 'Probe', operationType: 'query' });
    expect(typeof ops[0]!['ms']).toBe('number');
    expect(ops[0]).not.toHaveProperty('errorCodes');
    expect(JSON.stringify(ops[0])).not.toContain('marker-7Qx');

    await stack.gql('mutation { setAzureSyncEnabled(enabled: true) { enabled } }', undefined, {
      'x-request-id': 'op-0002',
    });
    expect(linesOf('op-0002').filter((l) => l['msg'] === 'graphql operation')).toEqual([
      expect.objectContaining({ operationName: null, operationType: 'mutation' }),
    ]);
  });

  it('logs upstream failures once, at warn, with their code and no body', async () => {
    stack.axisSim.addFault({
      route: 'users.list',
      times: 1,
      action: { type: 'error', status: 500, text: 'maintenance window' },
    });
    const res = await stack.gql('{ users { totalRecords } }', undefined, { 'x-request-id': 'fail-0001' });
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UPSTREAM_ERROR');
    const warn = linesOf('fail-0001').filter((l) => l['level'] === 40);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({
      errorCodes: ['UPSTREAM_ERROR'],
      upstreamFailures: [{ path: 'users', upstream: 'axis', status: 500 }],
    });
    expect(stack.logs.filter((l) => l.includes('"level":50'))).toEqual([]);
    expect(JSON.stringify(warn)).not.toContain('maintenance window');
  });
});
