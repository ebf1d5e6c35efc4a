import DataLoader from 'dataloader';
import { UpstreamError } from './upstreams/upstream-error.js';
import type { AxisClient, PageRequest } from './upstreams/axis/client.js';
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
 *   parallel GETs or, when many are missing, by list pages (fewer calls than GETs).
 *   Every user or group that arrives in a page, a list or a mutation result is primed, so it
 *   is never fetched again in the same request.
 *
 * The loaders keep themselves coherent: a page read here primes what it returns, and a write
 * made through the request's sources (createAxisSource, createNpmSource) runs the matching
 * LoaderHooks. Resolvers never prime or forget.
 */
export interface Loaders {
  cloudStatus(): Promise<CloudStatus>;
  azureAccounts(): Promise<AzureAccount[]>;
  azureAccountById: DataLoader<string, AzureAccount | null>;
  userById: DataLoader<string, AxisUser | null>;
  groupById: DataLoader<string, AxisGroup | null>;
  /** One page from the IdP (never memoised); its entities are primed and its `totalRecords` tells what a full listing costs. */
  userPage(page: PageRequest): Promise<AxisPage<AxisUser>>;
  groupPage(page: PageRequest): Promise<AxisPage<AxisGroup>>;
  /** A user or group this request already holds, without a promise (undefined if not held yet). */
  peekUser(id: string): AxisUser | undefined;
  peekGroup(id: string): AxisGroup | undefined;
  /**
   * Start fetching every user (the list pages) now, because the operation will need many of
   * them in a later level: the list then runs in parallel with the level that discovers
   * the ids. No-op when the tenant is known to span more than PREFETCH_MAX_PAGES pages.
   */
  prefetchUsers(): void;
  prefetchGroups(): void;
}

/** What a successful write tells the request's loaders; called by the sources below, never by a resolver. */
export interface LoaderHooks {
  /** Memberships may have changed on both sides: forget all of Axis, then hold the user as written. */
  afterUserWrite(user: AxisUser): void;
  afterGroupWrite(group: AxisGroup): void;
  /** A user or group is gone, and with it memberships on the other side. */
  afterAxisDelete(): void;
  /** The next NPM read must go to the appliance. */
  afterNpmWrite(): void;
}

/** Largest Axis page; one list call returns a whole tenant up to this size. */
const LIST_PAGE_SIZE = 1000;
/**
 * From this many ids missing in one batch, list pages replace the single GETs (when there
 * are fewer pages than ids): a page costs one round trip and one request to the IdP
 * instead of up to a thousand.
 */
const LIST_THRESHOLD = 8;
/** A lookahead prefetch lists a collection known to span at most this many pages. */
const PREFETCH_MAX_PAGES = 5;

/** What a stopped request's discarded answer holds for a user it could no longer read. */
const PLACEHOLDER_USER: AxisUser = {
  id: '',
  userName: '',
  email: '',
  firstName: '',
  lastName: '',
  enabled: false,
  expiration: null,
  hasSshPrivateKey: false,
  groups: [],
};

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
  /** The listing held the whole collection at one instant: an id missing from it does not exist. */
  complete: boolean;
}

/**
 * A by-id loader over an IdP collection that has single GETs and a paged list, but no
 * batch read. A batch is answered from list pages when that costs fewer calls than one GET
 * per missing id (a 3000-user tenant is 3 pages: members of every group cost 4 calls, not
 * 3000), else by parallel GETs; a 404 is null, any other failure is that id's error.
 */
class Collection<T extends { id: string }> {
  readonly loader: DataLoader<string, T | null>;
  /** totalRecords from any page seen in this request. */
  private total: number | undefined;
  /** Every entity this request holds, for synchronous reads (the loader only hands out promises). */
  private readonly held = new Map<string, T>();
  private first: Promise<AxisPage<T>> | undefined;
  private whole: Promise<Listing<T>> | undefined;

  constructor(
    private readonly list: (page: PageRequest) => Promise<AxisPage<T>>,
    private readonly get: (id: string) => Promise<T>,
    /**
     * The request is over its budget and its answer will be discarded (src/request-budget.ts):
     * a failed read then answers a placeholder, not an error per field.
     */
    private readonly stopped: () => boolean = () => false,
    private readonly placeholder?: (id: string) => T,
    /**
     * Hands each entity of a batch on within the request's slice of the event loop
     * (RequestBudget.pace): a batch of 3000 resolved at once would complete 3000 entities'
     * fields in one go.
     */
    private readonly pace: <V>(value: V) => V | Promise<V> = (value) => value,
  ) {
    this.loader = new DataLoader<string, T | null>((ids) => this.batch(ids));
  }

  /** List pages of the whole collection, as far as this request knows (1 when it does not know yet). */
  private pageCount(): number {
    return this.total === undefined ? 1 : Math.max(1, Math.ceil(this.total / LIST_PAGE_SIZE));
  }

  private firstPage(): Promise<AxisPage<T>> {
    return (this.first ??= this.list({ pageNumber: 1, pageSize: LIST_PAGE_SIZE }).then((page) => {
      this.total = page.totalRecords;
      this.prime(page.data);
      return page;
    }));
  }

  /**
   * Every page, the others in parallel once the first tells how many there are. Pages read
   * one after another are not one snapshot (a deletion shifts later items to earlier pages),
   * so a multi-page listing is not `complete`: an id missing from it is still asked for.
   */
  private allPages(): Promise<Listing<T>> {
    return (this.whole ??= this.firstPage().then(async (first) => {
      const others = await Promise.all(
        Array.from({ length: Math.max(0, first.totalPages - 1) }, (_, i) =>
          this.list({ pageNumber: i + 2, pageSize: LIST_PAGE_SIZE }),
        ),
      );
      const items = [...first.data, ...others.flatMap((page) => page.data)];
      for (const page of others) this.prime(page.data);
      return { byId: new Map(items.map((item) => [item.id, item])), complete: first.totalPages <= 1 };
    }));
  }

  prefetch(): void {
    if (this.whole !== undefined) return;
    // Known to be a few pages: all of them now. Unknown: the first, which tells the rest.
    if (this.total !== undefined && this.pageCount() <= PREFETCH_MAX_PAGES) this.allPages().catch(() => undefined);
    else if (this.total === undefined) this.firstPage().catch(() => undefined);
  }

  async page(request: PageRequest): Promise<AxisPage<T>> {
    const page = await this.list(request);
    this.total = page.totalRecords;
    this.prime(page.data);
    return page;
  }

  /**
   * Holds `items` as this request's copies. A load of a held id is answered from `held` by
   * batch(), without a call: priming the DataLoader too would cost a settled promise and a
   * cache entry per entity of every page (3000 of them for a tenant's full listing), most
   * never loaded. Its cached entry for the id, from before, is dropped.
   */
  prime(items: Iterable<T>): void {
    for (const item of items) {
      this.loader.clear(item.id);
      this.held.set(item.id, item);
    }
  }

  peek(id: string): T | undefined {
    return this.held.get(id);
  }

  forget(): void {
    this.loader.clearAll();
    this.held.clear();
    this.first = undefined;
    this.whole = undefined;
  }

  /** The listing to answer this batch from, or undefined when single GETs are cheaper. */
  private async listingFor(ids: readonly string[]): Promise<Listing<T> | undefined> {
    if (this.whole !== undefined) return this.whole;
    const worthListing = ids.length >= LIST_THRESHOLD && this.pageCount() < ids.length;
    if (this.first === undefined && !worthListing) return undefined;
    const first = await this.firstPage();
    const byId = new Map(first.data.map((item) => [item.id, item]));
    if (first.totalPages <= 1) return { byId, complete: true };
    const missing = ids.reduce((n, id) => (byId.has(id) ? n : n + 1), 0);
    // The other pages cost totalPages - 1 calls; the GETs, one per missing id.
    if (missing >= LIST_THRESHOLD && first.totalPages - 1 < missing) return this.allPages();
    return { byId, complete: false };
  }

  /**
   * One result per id, in key order. Not awaited together: each id's result reaches its
   * load() on its own (DataLoader adopts a promise given as a value), so a listing of 3000
   * is handed on in slices of the event loop (`pace`), and a GET answers when it arrives.
   * A failed GET rejects its own promise, which DataLoader passes on as that id's error.
   */
  private async batch(ids: readonly string[]): Promise<Array<T | null | Error>> {
    // Entities held (primed) when the batch starts answer as they are; only the others are read.
    const heldAtStart = ids.map((id) => this.held.get(id));
    const unheld = ids.filter((_, i) => heldAtStart[i] === undefined);
    if (unheld.length === 0) return heldAtStart as T[];
    let listing: Listing<T> | undefined;
    try {
      listing = await this.listingFor(unheld);
    } catch (err) {
      return ids.map((id, i) => heldAtStart[i] ?? this.failed(id, err));
    }
    const results = ids.map((id, i): T | null | Promise<T | null> => {
      const held = heldAtStart[i];
      if (held !== undefined) return held;
      const found = listing?.byId.get(id);
      if (found !== undefined) return this.pace(found);
      if (listing?.complete) return null;
      return this.get(id).then(
        (item) => {
          this.held.set(id, item);
          return item;
        },
        (err: unknown) => {
          if (isNotFound(err)) return null;
          const failed = this.failed(id, err);
          if (failed instanceof Error) throw failed;
          return failed;
        },
      );
    });
    // DataLoader's types want values; a promise among them is adopted by that key's load().
    return results as Array<T | null | Error>;
  }

  private failed(id: string, err: unknown): T | Error {
    return this.placeholder && this.stopped() ? this.placeholder(id) : asError(err);
  }
}

export function createLoaders(
  clients: { npm: NpmClient; axis: AxisClient },
  call: CallContext,
): { loaders: Loaders; hooks: LoaderHooks } {
  const { npm, axis } = clients;
  const status = memo(() => npm.getStatus(call));
  const accounts = memo(() => npm.listAccounts(call));
  const azureAccountById = new DataLoader<string, AzureAccount | null>(async (ids) => {
    const list = await accounts.get();
    const byId = new Map(list.map((a) => [a.accId, a]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const stopped = () => call.budget?.stopped === true;
  const pace = <V>(value: V): V | Promise<V> => (call.budget ? call.budget.pace(value) : value);
  const users = new Collection<AxisUser>(
    (page) => axis.listUsers(page, call),
    (id) => axis.getUser(id, call),
    stopped,
    (id) => ({ ...PLACEHOLDER_USER, id }),
    pace,
  );
  const groups = new Collection<AxisGroup>(
    (page) => axis.listGroups(page, call),
    (id) => axis.getGroup(id, call),
    stopped,
    (id) => ({ id, name: '', description: null, users: [] }),
    pace,
  );
  const forgetAxis = (): void => {
    users.forget();
    groups.forget();
  };

  return {
    loaders: {
      cloudStatus: status.get,
      azureAccounts: accounts.get,
      azureAccountById,
      userById: users.loader,
      groupById: groups.loader,
      userPage: (page) => users.page(page),
      groupPage: (page) => groups.page(page),
      peekUser: (id) => users.peek(id),
      peekGroup: (id) => groups.peek(id),
      prefetchUsers: () => users.prefetch(),
      prefetchGroups: () => groups.prefetch(),
    },
    hooks: {
      afterUserWrite(user) {
        forgetAxis();
        users.prime([user]);
      },
      afterGroupWrite(group) {
        forgetAxis();
        groups.prime([group]);
      },
      afterAxisDelete: forgetAxis,
      afterNpmWrite() {
        status.forget();
        accounts.forget();
        azureAccountById.clearAll();
      },
    },
  };
}

/**
 * The Axis client as a request's resolvers see it: the same methods, and after each
 * successful write the request's loaders are told (LoaderHooks). List reads are not here:
 * they go through the loaders (userPage, groupPage), which prime what they return.
 */
export type AxisSource = Pick<
  AxisClient,
  | 'getUser'
  | 'getGroup'
  | 'listUsers'
  | 'listGroups'
  | 'createUser'
  | 'updateUser'
  | 'deleteUser'
  | 'createGroup'
  | 'updateGroup'
  | 'deleteGroup'
  | 'commit'
>;

export function createAxisSource(axis: AxisClient, hooks: LoaderHooks): AxisSource {
  return {
    // Around the loaders on purpose: a read-merge-write starts from the IdP's current copy.
    getUser: (id, call) => axis.getUser(id, call),
    getGroup: (id, call) => axis.getGroup(id, call),
    // Also around the loaders: settling an unknown write looks for its effect (Mutation.ts).
    listUsers: (page, call) => axis.listUsers(page, call),
    listGroups: (page, call) => axis.listGroups(page, call),
    async createUser(user, call) {
      const created = await axis.createUser(user, call);
      hooks.afterUserWrite(created);
      return created;
    },
    async updateUser(id, user, call) {
      const updated = await axis.updateUser(id, user, call);
      hooks.afterUserWrite(updated);
      return updated;
    },
    async deleteUser(id, call) {
      await axis.deleteUser(id, call);
      hooks.afterAxisDelete();
    },
    async createGroup(group, call) {
      const created = await axis.createGroup(group, call);
      hooks.afterGroupWrite(created);
      return created;
    },
    async updateGroup(id, group, call) {
      const updated = await axis.updateGroup(id, group, call);
      hooks.afterGroupWrite(updated);
      return updated;
    },
    async deleteGroup(id, call) {
      await axis.deleteGroup(id, call);
      hooks.afterAxisDelete();
    },
    // A commit publishes what earlier writes staged, and each of those writes has already
    // told the loaders (the IdP's reads show staged changes): nothing more to forget. Were
    // it to forget, an auto-commit would drop the user or group its write just primed.
    commit: (call) => axis.commit(call),
  };
}

/** The NPM client's writes as a request's resolvers see them: each one makes the next NPM read go to the appliance. */
export type NpmSource = Pick<
  NpmClient,
  'getStatus' | 'setSyncEnabled' | 'syncNow' | 'upsertAccounts' | 'deleteAccounts'
>;

export function createNpmSource(npm: NpmClient, hooks: LoaderHooks): NpmSource {
  return {
    // Around the loaders: settling an unknown toggle reads the appliance's status afresh.
    getStatus: (call) => npm.getStatus(call),
    async setSyncEnabled(enabled, call) {
      await npm.setSyncEnabled(enabled, call);
      hooks.afterNpmWrite();
    },
    async syncNow(call) {
      await npm.syncNow(call);
      hooks.afterNpmWrite();
    },
    async upsertAccounts(accounts, call) {
      await npm.upsertAccounts(accounts, call);
      hooks.afterNpmWrite();
    },
    async deleteAccounts(accIds, call) {
      await npm.deleteAccounts(accIds, call);
      hooks.afterNpmWrite();
    },
  };
}
