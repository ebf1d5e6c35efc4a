import { badUserInput } from '../errors.js';
import type { PageRequest } from '../upstreams/axis/client.js';
import type { AxisPage } from '../upstreams/axis/types.js';

/**
 * Relay cursor connections over Axis's page-number paging.
 *
 * A cursor is the position of an entity in the IdP's order (`base64url("offset:<n>")`),
 * so `after`/`before` say exactly which range the caller wants: `first: n, after: c` is
 * [c+1, c+1+n), `last: n, before: c` is [c-n, c), `last: n` alone is the last n. Axis
 * only serves aligned pages (`pageSize` s, `pageNumber` p covers [(p-1)s, ps)), so the
 * range is fetched with the fewest calls:
 *
 * - one call when some page size s between n and 1000 puts the whole range in one page:
 *   the smallest such s (fewest records transferred);
 * - otherwise two calls of page size n (a range of n that straddles a boundary of size-n
 *   pages lies in exactly two of them);
 * - `last` without `before` needs the total first: one call of page size n from the start,
 *   which is the whole answer when the collection has at most n entries; otherwise the
 *   range is known and fetched as above (so 2 or 3 calls).
 *
 * Like page numbers, positions shift when entities are added or removed between two
 * requests: a cursor names a position, not an entity.
 */

/** `first`/`last` run from 1 to this, like `pageSize`. */
export const MAX_CONNECTION_SIZE = 1000;
/** `first` when neither `first` nor `last` is given, like `pageSize`'s default. */
const DEFAULT_CONNECTION_SIZE = 100;
/** Positions beyond this are not cursors we hand out (bounds the page numbers we send). */
const MAX_OFFSET = 10_000_000;

export interface ConnectionArgs {
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
}

export type { PageRequest };

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionSource<T> {
  edges: Array<Edge<T>>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

export function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, field: string): number {
  const text = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^offset:(0|[1-9]\d{0,7})$/.exec(text);
  const offset = match ? Number(match[1]) : NaN;
  if (!(offset <= MAX_OFFSET) || encodeCursor(offset) !== cursor)
    throw badUserInput([{ field, message: 'is not a cursor of this connection' }]);
  return offset;
}

function size(value: number | null | undefined, field: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > MAX_CONNECTION_SIZE)
    throw badUserInput([{ field, message: `must be between 1 and ${MAX_CONNECTION_SIZE}` }]);
  return value;
}

/** The wanted range: known [start, end), or the last `count` (the total is not known yet). */
type Range = { start: number; end: number } | { last: number };

function rangeOf(args: ConnectionArgs): Range {
  const first = size(args.first, 'first');
  const last = size(args.last, 'last');
  if (first !== undefined && last !== undefined)
    throw badUserInput([{ field: 'last', message: 'must not be given together with first' }]);
  const after = args.after === null || args.after === undefined ? undefined : decodeCursor(args.after, 'after');
  const before = args.before === null || args.before === undefined ? undefined : decodeCursor(args.before, 'before');
  if (last !== undefined) {
    if (after !== undefined)
      throw badUserInput([{ field: 'after', message: 'must not be given with last (use before)' }]);
    if (before === undefined) return { last };
    return { start: Math.max(0, before - last), end: before };
  }
  if (before !== undefined) throw badUserInput([{ field: 'before', message: 'must not be given with first' }]);
  const start = after === undefined ? 0 : after + 1;
  return { start, end: start + (first ?? DEFAULT_CONNECTION_SIZE) };
}

/** The fewest Axis pages that cover [start, end) (see the module comment). */
export function pagesFor(start: number, end: number): PageRequest[] {
  const count = end - start;
  if (count <= 0) return [];
  for (let s = count; s <= MAX_CONNECTION_SIZE; s++) {
    if (Math.floor(start / s) === Math.floor((end - 1) / s))
      return [{ pageSize: s, pageNumber: Math.floor(start / s) + 1 }];
  }
  const first = Math.floor(start / count);
  return [
    { pageSize: count, pageNumber: first + 1 },
    { pageSize: count, pageNumber: first + 2 },
  ];
}

/** Fetches the range through `list` (which primes the loaders) and shapes the connection. */
export async function loadConnection<T>(
  args: ConnectionArgs,
  list: (page: PageRequest) => Promise<AxisPage<T>>,
): Promise<ConnectionSource<T>> {
  let range = rangeOf(args);
  const held = new Map<number, T>();
  let total: number | undefined;
  const take = (page: AxisPage<T>, request: PageRequest) => {
    total = page.totalRecords;
    const base = (request.pageNumber - 1) * request.pageSize;
    page.data.forEach((item, i) => held.set(base + i, item));
  };
  if ('last' in range) {
    const probe = { pageSize: range.last, pageNumber: 1 };
    take(await list(probe), probe);
    const known = total ?? 0;
    range = { start: Math.max(0, known - range.last), end: known };
  }
  const { start, end } = range;
  // After the probe of a `last`, the range may be held already (a collection of at most n).
  const holdsRange = () => {
    for (let o = start; o < Math.min(end, total ?? end); o++) if (!held.has(o)) return false;
    return total !== undefined;
  };
  if (!holdsRange()) {
    // An empty range (`before` the first entity) still needs the total: one record.
    const requests = start < end ? pagesFor(start, end) : [{ pageSize: 1, pageNumber: 1 }];
    const pages = await Promise.all(requests.map((p) => list(p)));
    pages.forEach((page, i) => take(page, requests[i]!));
  }
  const totalCount = total ?? 0;
  const edges: Array<Edge<T>> = [];
  for (let o = start; o < Math.min(end, totalCount); o++) {
    const node = held.get(o);
    if (node !== undefined) edges.push({ cursor: encodeCursor(o), node });
  }
  return {
    edges,
    pageInfo: {
      hasPreviousPage: start > 0 && totalCount > 0,
      hasNextPage: end < totalCount,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  };
}
