import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import {
  MAX_CONNECTION_SIZE,
  decodeCursor,
  encodeCursor,
  loadConnection,
  pagesFor,
} from '../../src/resolvers/connections.js';
import type { ConnectionArgs, ConnectionSource, PageRequest } from '../../src/resolvers/connections.js';
import { fromGlobalId, parseGlobalId, toGlobalId } from '../../src/resolvers/global-id.js';
import type { AxisPage } from '../../src/upstreams/axis/types.js';

/** Axis's page-number paging over `total` records, counting the calls. */
function idp(total: number) {
  const calls: PageRequest[] = [];
  const list = ({ pageNumber, pageSize }: PageRequest): Promise<AxisPage<number>> => {
    calls.push({ pageNumber, pageSize });
    const from = (pageNumber - 1) * pageSize;
    const data = Array.from({ length: Math.max(0, Math.min(pageSize, total - from)) }, (_, i) => from + i);
    return Promise.resolve({
      pageNumber,
      pageSize,
      totalPages: Math.ceil(total / pageSize),
      totalRecords: total,
      data,
    });
  };
  return { calls, list };
}

const nodes = (c: { edges: Array<{ node: number }> }) => c.edges.map((e) => e.node);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

function badInput(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError && err.extensions['code'] === 'BAD_USER_INPUT')
      return err.extensions['fields'] as string[];
    throw err;
  }
  throw new Error('no BAD_USER_INPUT');
}

async function badInputAsync(args: ConnectionArgs): Promise<string[]> {
  try {
    await loadConnection(args, idp(10).list);
  } catch (err) {
    if (err instanceof GatewayError && err.extensions['code'] === 'BAD_USER_INPUT')
      return err.extensions['fields'] as string[];
    throw err;
  }
  throw new Error('no BAD_USER_INPUT');
}

describe('pagesFor: the fewest aligned Axis pages covering a range', () => {
  it('one page whenever some page size up to 1000 holds the whole range, else two', () => {
    for (let start = 0; start < 3000; start += 37) {
      for (const count of [1, 7, 50, 100, 999, 1000]) {
        const pages = pagesFor(start, start + count);
        const covered = new Set(
          pages.flatMap((p) => range((p.pageNumber - 1) * p.pageSize, p.pageNumber * p.pageSize)),
        );
        expect(range(start, start + count).every((o) => covered.has(o))).toBe(true);
        expect(pages.length).toBeLessThanOrEqual(2);
        expect(pages.every((p) => p.pageSize >= 1 && p.pageSize <= MAX_CONNECTION_SIZE && p.pageNumber >= 1)).toBe(
          true,
        );
        const onePageFits = range(count, MAX_CONNECTION_SIZE + 1).some(
          (s) => Math.floor(start / s) === Math.floor((start + count - 1) / s),
        );
        expect(pages.length).toBe(onePageFits ? 1 : 2);
      }
    }
  });

  it('an aligned request is the page itself', () => {
    expect(pagesFor(0, 100)).toEqual([{ pageSize: 100, pageNumber: 1 }]);
    expect(pagesFor(200, 300)).toEqual([{ pageSize: 100, pageNumber: 3 }]);
    expect(pagesFor(1500, 2500)).toEqual([
      { pageSize: 1000, pageNumber: 2 },
      { pageSize: 1000, pageNumber: 3 },
    ]);
  });
});

describe('loadConnection over 3000 records', () => {
  it('walks forward with first/after: every record once, in order, one call per page', async () => {
    const up = idp(3000);
    const seen: number[] = [];
    let after: string | null = null;
    for (;;) {
      const c: ConnectionSource<number> = await loadConnection({ first: 1000, after }, up.list);
      seen.push(...nodes(c));
      expect(c.totalCount).toBe(3000);
      expect(c.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(seen).toEqual(range(0, 3000));
    expect(up.calls).toEqual([1, 2, 3].map((pageNumber) => ({ pageSize: 1000, pageNumber })));
  });

  it('any first/after window is the right slice in at most two calls', async () => {
    for (const [after, first] of [
      [undefined, 10],
      [0, 10],
      [994, 10],
      [1499, 1000],
      [2995, 10],
      [2999, 5],
    ] as const) {
      const up = idp(3000);
      const c = await loadConnection({ first, after: after === undefined ? null : encodeCursor(after) }, up.list);
      const start = after === undefined ? 0 : after + 1;
      expect(nodes(c)).toEqual(range(start, Math.min(3000, start + first)));
      expect(c.pageInfo.hasNextPage).toBe(start + first < 3000);
      expect(c.pageInfo.startCursor).toBe(c.edges.length ? encodeCursor(start) : null);
      expect(up.calls.length).toBeLessThanOrEqual(2);
    }
  });

  it('walks backward with last/before; `last` alone costs one call to learn the total, then the range', async () => {
    const up = idp(3000);
    const tail = await loadConnection({ last: 10 }, up.list);
    expect(nodes(tail)).toEqual(range(2990, 3000));
    expect(tail.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect(up.calls).toEqual([
      { pageSize: 10, pageNumber: 1 },
      { pageSize: 10, pageNumber: 300 },
    ]);
    up.calls.length = 0;
    const before = await loadConnection({ last: 10, before: tail.pageInfo.startCursor }, up.list);
    expect(nodes(before)).toEqual(range(2980, 2990));
    expect(before.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(up.calls).toEqual([{ pageSize: 10, pageNumber: 299 }]);
    const head = await loadConnection({ last: 10, before: encodeCursor(3) }, up.list);
    expect(nodes(head)).toEqual([0, 1, 2]);
    expect(head.pageInfo.hasPreviousPage).toBe(false);
  });

  it('`last` over a collection that fits is one call; before the first record is empty but counted', async () => {
    const up = idp(7);
    const all = await loadConnection({ last: 10 }, up.list);
    expect(nodes(all)).toEqual(range(0, 7));
    expect(up.calls).toHaveLength(1);
    const none = await loadConnection({ last: 5, before: encodeCursor(0) }, up.list);
    expect(nodes(none)).toEqual([]);
    expect(none.totalCount).toBe(7);
    expect(none.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true, startCursor: null });
  });

  it('defaults to the first 100, like pageSize', async () => {
    const up = idp(3000);
    expect(nodes(await loadConnection({}, up.list))).toEqual(range(0, 100));
    expect(up.calls).toEqual([{ pageSize: 100, pageNumber: 1 }]);
  });
});

describe('bad connection arguments are BAD_USER_INPUT naming the argument, before any call', () => {
  it('sizes are capped like pageSize, cursors must be ours, directions do not mix', async () => {
    expect(await badInputAsync({ first: 1001 })).toEqual(['first']);
    expect(await badInputAsync({ first: 0 })).toEqual(['first']);
    expect(await badInputAsync({ last: -1 })).toEqual(['last']);
    expect(await badInputAsync({ first: 1, last: 1 })).toEqual(['last']);
    expect(await badInputAsync({ after: 'nope' })).toEqual(['after']);
    expect(await badInputAsync({ last: 1, before: Buffer.from('offset:-1').toString('base64url') })).toEqual([
      'before',
    ]);
    expect(await badInputAsync({ last: 1, after: encodeCursor(1) })).toEqual(['after']);
    expect(await badInputAsync({ first: 1, before: encodeCursor(1) })).toEqual(['before']);
    expect(badInput(() => decodeCursor(encodeCursor(99_999_999), 'after'))).toEqual(['after']);
    expect(decodeCursor(encodeCursor(42), 'after')).toBe(42);
  });
});

describe('global ids', () => {
  it('round-trip type and key, and are not the raw key', () => {
    for (const [type, key] of [
      ['User', 'c0ffee00-0000-4000-8000-000000000001'],
      ['Group', 'g:1/ü'],
      ['AzureAccount', 'prod-account'],
      ['CloudStatus', 'npm'],
    ] as const) {
      const id = toGlobalId(type, key);
      expect(id).not.toContain(key);
      expect(fromGlobalId(id)).toEqual({ type, key });
    }
  });

  it('anything else is not a node id', () => {
    for (const id of [
      '',
      'c0ffee00-0000-4000-8000-000000000001',
      toGlobalId('User', 'x') + '=',
      Buffer.from('Widget:1').toString('base64url'),
      Buffer.from('User:').toString('base64url'),
      Buffer.from('CloudStatus:other').toString('base64url'),
    ]) {
      expect(fromGlobalId(id), id).toBeUndefined();
    }
    expect(badInput(() => parseGlobalId('nope', 'ids[3]'))).toEqual(['ids[3]']);
  });
});
