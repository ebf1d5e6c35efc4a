import DataLoader from 'dataloader';
import { UpstreamError } from './upstreams/upstream-error.js';
import type { AxisClient } from './upstreams/axis/client.js';
import type { CallContext } from './upstreams/http.js';
import type { AxisGroup, AxisPage, AxisUser } from './upstreams/axis/types.js';
import type { NpmClient } from './upstreams/npm/client.js';
import type { AzureAccount, CloudStatus } from './upstreams/npm/types.js';

/**
 * Per-request memoisation (never an app cache: one caller's data must not reach another).
 * Built in the context factory for every request.
 *
 * - NPM has no get-one-account route, so every `azureAccount` in a request is answered
 *   from ONE `GET /auth_codes`, shared with `azureAccounts`.
 * - Axis has no batch get; `userById`/`groupById` dedupe ids, and fetch the rest either by
 *   parallel GETs or, when many are missing and the tenant fits one page, by one list call.
 *   Every user or group that arrives in a page, a list or a mutation result is primed, so it
 *   is never fetched again in the same request.
 */
export interface Loaders {
  cloudStatus(): Promise<CloudStatus>;
  azureAccounts(): Promise<AzureAccount[]>;
  azureAccountById: DataLoader<string, AzureAccount | null>;
  userById: DataLoader<string, AxisUser | null>;
  groupById: DataLoader<string, AxisGroup | null>;
  /** A user or group this request already holds, without a promise (undefined if not held yet). */
  peekUser(id: string): AxisUser | undefined;
  peekGroup(id: string): AxisGroup | undefined;
  primeUsers(users: Iterable<AxisUser>): void;
  primeGroups(groups: Iterable<AxisGroup>): void;
  /** A page from the IdP: its entities are primed and its `totalRecords` tells what a full listing costs. */
  primeUserPage(page: AxisPage<AxisUser>): void;
  primeGroupPage(page: AxisPage<AxisGroup>): void;
  /**
   * Start fetching every user (one list page) now, because the operation will need many of
   * them in a later level: the list then runs in parallel with the level that discovers
   * the ids. No-op when the tenant is known to be larger than one page.
   */
  prefetchUsers(): void;
  prefetchGroups(): void;
  /** After a write: memberships may have changed on both sides. */
  forgetAxis(): void;
  /** After a write: the next read must go to the appliance. */
  forgetNpm(): void;
}

/** Largest Axis page; one list call returns a whole tenant up to this size. */
export const LIST_PAGE_SIZE = 1000;
/**
 * From this many ids missing in one batch, one list call replaces the single GETs: a list
 * page of a tenant that fits in one page costs one round trip and one request to the IdP
 * instead of N.
 */
export const LIST_THRESHOLD = 8;

function isNotFound(err: unknown): boolean {
  return err instanceof UpstreamError && err.failure === 'http' && err.status === 404;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function memo<T>(load: () => Promise<T>): { get(): Promise<T>; forget(): void } {
  let pending: Promise<T> | undefined;
  return {
    get: () => (pending ??= load()),
    forget: () => {
      pending = undefined;
    },
  };
}

interface Listing<T> {
  byId: Map<string, T>;
  /** The page held the whole collection: an id missing from it does not exist. */
  complete: boolean;
}

/**
 * A by-id loader over an IdP collection that has single GETs and a paged list, but no
 * batch read. A batch is answered from one list page when that is cheaper (many ids, and a
 * collection that fits in one page), else by parallel GETs; a 404 is null, any other
 * failure is that id's error.
 */
class Collection<T extends { id: string }> {
  readonly loader: DataLoader<string, T | null>;
  /** totalRecords from any page seen in this request. */
  private total: number | undefined;
  /** Every entity this request holds, for synchronous reads (the loader only hands out promises). */
  private readonly held = new Map<string, T>();
  private listing: Promise<Listing<T>> | undefined;

  constructor(
    private readonly list: (page: { pageNumber: number; pageSize: number }) => Promise<AxisPage<T>>,
    private readonly get: (id: string) => Promise<T>,
  ) {
    this.loader = new DataLoader<string, T | null>((ids) => this.batch(ids));
  }

  private fitsOnePage(): boolean {
    return this.total === undefined || this.total <= LIST_PAGE_SIZE;
  }

  private fetchAll(): Promise<Listing<T>> {
    return (this.listing ??= this.list({ pageNumber: 1, pageSize: LIST_PAGE_SIZE }).then((page) => {
      this.total = page.totalRecords;
      this.prime(page.data);
      return { byId: new Map(page.data.map((item) => [item.id, item])), complete: page.totalPages <= 1 };
    }));
  }

  prefetch(): void {
    if (this.listing === undefined && this.fitsOnePage()) this.fetchAll().catch(() => undefined);
  }

  notePage(page: AxisPage<T>): void {
    this.total = page.totalRecords;
    this.prime(page.data);
  }

  prime(items: Iterable<T>): void {
    for (const item of items) {
      this.loader.clear(item.id).prime(item.id, item);
      this.held.set(item.id, item);
    }
  }

  peek(id: string): T | undefined {
    return this.held.get(id);
  }

  forget(): void {
    this.loader.clearAll();
    this.held.clear();
    this.listing = undefined;
  }

  private async batch(ids: readonly string[]): Promise<Array<T | null | Error>> {
    const useList = this.listing !== undefined || (ids.length >= LIST_THRESHOLD && this.fitsOnePage());
    let listing: Listing<T> | undefined;
    if (useList) {
      try {
        listing = await this.fetchAll();
      } catch (err) {
        return ids.map(() => asError(err));
      }
    }
    return Promise.all(
      ids.map((id) => {
        const found = listing?.byId.get(id);
        if (found !== undefined) return found;
        if (listing?.complete) return null;
        return this.get(id).then(
          (item) => {
            this.held.set(id, item);
            return item;
          },
          (err: unknown) => (isNotFound(err) ? null : asError(err)),
        );
      }),
    );
  }
}

export function createLoaders(clients: { npm: NpmClient; axis: AxisClient }, call: CallContext): Loaders {
  const { npm, axis } = clients;
  const status = memo(() => npm.getStatus(call));
  const accounts = memo(() => npm.listAccounts(call));
  const azureAccountById = new DataLoader<string, AzureAccount | null>(async (ids) => {
    const list = await accounts.get();
    const byId = new Map(list.map((a) => [a.accId, a]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const users = new Collection<AxisUser>(
    (page) => axis.listUsers(page, call),
    (id) => axis.getUser(id, call),
  );
  const groups = new Collection<AxisGroup>(
    (page) => axis.listGroups(page, call),
    (id) => axis.getGroup(id, call),
  );

  return {
    cloudStatus: status.get,
    azureAccounts: accounts.get,
    azureAccountById,
    userById: users.loader,
    groupById: groups.loader,
    peekUser: (id) => users.peek(id),
    peekGroup: (id) => groups.peek(id),
    primeUsers: (items) => users.prime(items),
    primeGroups: (items) => groups.prime(items),
    primeUserPage: (page) => users.notePage(page),
    primeGroupPage: (page) => groups.notePage(page),
    prefetchUsers: () => users.prefetch(),
    prefetchGroups: () => groups.prefetch(),
    forgetAxis() {
      users.forget();
      groups.forget();
    },
    forgetNpm() {
      status.forget();
      accounts.forget();
      azureAccountById.clearAll();
    },
  };
}
