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

describe('request ids', () => {
  it("keeps the caller's x-request-id, echoes it, and binds it to every log line of the request", async () => {
    const res = await stack.gql('query Dash { azureStatus { state } users(pageSize: 2) { totalRecords } }', undefined, {
      'x-request-id': 'frontend-7f3a-0001',
    });
    expect(res.headers['x-request-id']).toBe('frontend-7f3a-0001');
    const lines = linesOf('frontend-7f3a-0001');
    expect(lines.some((l) => l['msg'] === 'graphql operation' && l['operationName'] === 'Dash')).toBe(true);
    expect(lines.filter((l) => l['msg'] === 'upstream call').map((l) => l['route'])).toEqual(
      expect.arrayContaining(['status.get', 'users.list']),
    );
  });

  it('replaces an unusable x-request-id with a generated one', async () => {
    const res = await stack.gql('{ azureStatus { state } }', undefined, {
      'x-request-id': 'bad id with spaces and \u00e9',
    });
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
