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

/**
 * A request's loaders and the hooks its sources call, as one class: every request makes one,
 * and what a request never asks for (the accounts' DataLoader, the users' and groups'
 * Collections) is made on first use. Methods live on the prototype rather than as a dozen
 * closures per request; resolvers call them on `loaders`, never detached.
 */
class RequestLoaders implements Loaders, LoaderHooks {
  private status: Promise<CloudStatus> | undefined;
  private accounts: Promise<AzureAccount[]> | undefined;
  private accountLoader: DataLoader<string, AzureAccount | null> | undefined;
  private users: Collection<AxisUser> | undefined;
  private groups: Collection<AxisGroup> | undefined;

  constructor(
    private readonly npm: NpmClient,
    private readonly axis: AxisClient,
    private readonly call: CallContext,
  ) {}

  cloudStatus(): Promise<CloudStatus> {
    return (this.status ??= this.npm.getStatus(this.call));
  }

  azureAccounts(): Promise<AzureAccount[]> {
    return (this.accounts ??= this.npm.listAccounts(this.call));
  }

  get azureAccountById(): DataLoader<string, AzureAccount | null> {
    return (this.accountLoader ??= new DataLoader<string, AzureAccount | null>(async (ids) => {
      const list = await this.azureAccounts();
      const byId = new Map(list.map((a) => [a.accId, a]));
      return ids.map((id) => byId.get(id) ?? null);
    }));
  }

  get userById(): DataLoader<string, AxisUser | null> {
    return this.userCollection().loader;
  }

  get groupById(): DataLoader<string, AxisGroup | null> {
    return this.groupCollection().loader;
  }

  userPage(page: PageRequest): Promise<AxisPage<AxisUser>> {
    return this.userCollection().page(page);
  }

  groupPage(page: PageRequest): Promise<AxisPage<AxisGroup>> {
    return this.groupCollection().page(page);
  }

  peekUser(id: string): AxisUser | undefined {
    return this.users?.peek(id);
  }

  peekGroup(id: string): AxisGroup | undefined {
    return this.groups?.peek(id);
  }

  prefetchUsers(): void {
    this.userCollection().prefetch();
  }

  prefetchGroups(): void {
    this.groupCollection().prefetch();
  }

  afterUserWrite(user: AxisUser): void {
    this.afterAxisDelete();
    this.userCollection().prime([user]);
  }

  afterGroupWrite(group: AxisGroup): void {
    this.afterAxisDelete();
    this.groupCollection().prime([group]);
  }

  afterAxisDelete(): void {
    this.users?.forget();
    this.groups?.forget();
  }

  afterNpmWrite(): void {
    this.status = undefined;
    this.accounts = undefined;
    this.accountLoader?.clearAll();
  }

  private userCollection(): Collection<AxisUser> {
    if (this.users === undefined) {
      const { axis, call } = this;
      this.users = new Collection<AxisUser>(
        (page) => axis.listUsers(page, call),
        (id) => axis.getUser(id, call),
        () => call.budget?.stopped === true,
        (id) => ({ ...PLACEHOLDER_USER, id }),
        (value) => (call.budget ? call.budget.pace(value) : value),
      );
    }
    return this.users;
  }

  private groupCollection(): Collection<AxisGroup> {
    if (this.groups === undefined) {
      const { axis, call } = this;
      this.groups = new Collection<AxisGroup>(
        (page) => axis.listGroups(page, call),
        (id) => axis.getGroup(id, call),
        () => call.budget?.stopped === true,
        (id) => ({ id, name: '', description: null, users: [] }),
        (value) => (call.budget ? call.budget.pace(value) : value),
      );
    }
    return this.groups;
  }
}

export function createLoaders(
  clients: { npm: NpmClient; axis: AxisClient },
  call: CallContext,
): { loaders: Loaders; hooks: LoaderHooks } {
  const both = new RequestLoaders(clients.npm, clients.axis, call);
  return { loaders: both, hooks: both };
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

/**
 * A class, not an object of closures: every request gets one, and its methods live on the
 * prototype instead of being made for each request (methods are called on it, never detached).
 */
class AxisSourceOf implements AxisSource {
  constructor(
    private readonly axis: AxisClient,
    private readonly hooks: LoaderHooks,
  ) {}

  // Around the loaders on purpose: a read-merge-write starts from the IdP's current copy.
  getUser(id: string, call?: CallContext): Promise<AxisUser> {
    return this.axis.getUser(id, call);
  }

  getGroup(id: string, call?: CallContext): Promise<AxisGroup> {
    return this.axis.getGroup(id, call);
  }

  // Also around the loaders: settling an unknown write looks for its effect (Mutation.ts).
  listUsers(page: PageRequest, call?: CallContext): Promise<AxisPage<AxisUser>> {
    return this.axis.listUsers(page, call);
  }

  listGroups(page: PageRequest, call?: CallContext): Promise<AxisPage<AxisGroup>> {
    return this.axis.listGroups(page, call);
  }

  async createUser(...args: Parameters<AxisClient['createUser']>): Promise<AxisUser> {
    const created = await this.axis.createUser(...args);
    this.hooks.afterUserWrite(created);
    return created;
  }

  async updateUser(...args: Parameters<AxisClient['updateUser']>): Promise<AxisUser> {
    const updated = await this.axis.updateUser(...args);
    this.hooks.afterUserWrite(updated);
    return updated;
  }

  async deleteUser(...args: Parameters<AxisClient['deleteUser']>): Promise<void> {
    await this.axis.deleteUser(...args);
    this.hooks.afterAxisDelete();
  }

  async createGroup(...args: Parameters<AxisClient['createGroup']>): Promise<AxisGroup> {
    const created = await this.axis.createGroup(...args);
    this.hooks.afterGroupWrite(created);
    return created;
  }

  async updateGroup(...args: Parameters<AxisClient['updateGroup']>): Promise<AxisGroup> {
    const updated = await this.axis.updateGroup(...args);
    this.hooks.afterGroupWrite(updated);
    return updated;
  }

  async deleteGroup(...args: Parameters<AxisClient['deleteGroup']>): Promise<void> {
    await this.axis.deleteGroup(...args);
    this.hooks.afterAxisDelete();
  }

  // A commit publishes what earlier writes staged, and each of those writes has already
  // told the loaders (the IdP's reads show staged changes): nothing more to forget. Were
  // it to forget, an auto-commit would drop the user or group its write just primed.
  commit(...args: Parameters<AxisClient['commit']>): ReturnType<AxisClient['commit']> {
    return this.axis.commit(...args);
  }
}

export function createAxisSource(axis: AxisClient, hooks: LoaderHooks): AxisSource {
  return new AxisSourceOf(axis, hooks);
}

/** The NPM client's writes as a request's resolvers see them: each one makes the next NPM read go to the appliance. */
export type NpmSource = Pick<
  NpmClient,
  'getStatus' | 'setSyncEnabled' | 'syncNow' | 'upsertAccounts' | 'deleteAccounts'
>;

/** Like AxisSourceOf, a class so that a request's source costs one object. */
class NpmSourceOf implements NpmSource {
  constructor(
    private readonly npm: NpmClient,
    private readonly hooks: LoaderHooks,
  ) {}

  // Around the loaders: settling an unknown toggle reads the appliance's status afresh.
  getStatus(...args: Parameters<NpmClient['getStatus']>): ReturnType<NpmClient['getStatus']> {
    return this.npm.getStatus(...args);
  }

  async setSyncEnabled(...args: Parameters<NpmClient['setSyncEnabled']>): Promise<void> {
    await this.npm.setSyncEnabled(...args);
    this.hooks.afterNpmWrite();
  }

  async syncNow(...args: Parameters<NpmClient['syncNow']>): Promise<void> {
    await this.npm.syncNow(...args);
    this.hooks.afterNpmWrite();
  }

  async upsertAccounts(...args: Parameters<NpmClient['upsertAccounts']>): Promise<void> {
    await this.npm.upsertAccounts(...args);
    this.hooks.afterNpmWrite();
  }

  async deleteAccounts(...args: Parameters<NpmClient['deleteAccounts']>): Promise<void> {
    await this.npm.deleteAccounts(...args);
    this.hooks.afterNpmWrite();
  }
}

export function createNpmSource(npm: NpmClient, hooks: LoaderHooks): NpmSource {
  return new NpmSourceOf(npm, hooks);
}
