import DataLoader from 'dataloader';
import { UpstreamError } from './errors.js';
import type { AxisClient } from './upstreams/axis/client.js';
import type { CallContext } from './upstreams/http.js';
import type { AxisGroup, AxisUser } from './upstreams/axis/types.js';
import type { NpmClient } from './upstreams/npm/client.js';
import type { AzureAccount, CloudStatus } from './upstreams/npm/types.js';

/**
 * Per-request memoisation (never an app cache: one caller's data must not reach another).
 * Built in the context factory for every request.
 *
 * - NPM has no get-one-account route, so every `azureAccount` in a request is answered
 *   from ONE `GET /auth_codes`, shared with `azureAccounts`.
 * - Axis has no batch get; `userById`/`groupById` dedupe ids and fetch the rest in parallel.
 *   Every user or group that arrives in a page or a mutation result is primed, so it is
 *   never fetched again in the same request.
 */
export interface Loaders {
  cloudStatus(): Promise<CloudStatus>;
  azureAccounts(): Promise<AzureAccount[]>;
  azureAccountById: DataLoader<string, AzureAccount | null>;
  userById: DataLoader<string, AxisUser | null>;
  groupById: DataLoader<string, AxisGroup | null>;
  primeUsers(users: Iterable<AxisUser>): void;
  primeGroups(groups: Iterable<AxisGroup>): void;
  /** After a write: memberships may have changed on both sides. */
  forgetAxis(): void;
  /** After a write: the next read must go to the appliance. */
  forgetNpm(): void;
}

function isNotFound(err: unknown): boolean {
  return err instanceof UpstreamError && err.failure === 'http' && err.status === 404;
}

/** One GET per distinct id, results in key order, null for a 404, the error for anything else. */
function byIdBatch<T>(get: (id: string) => Promise<T>) {
  return (ids: readonly string[]): Promise<Array<T | null | Error>> =>
    Promise.all(
      ids.map((id) =>
        get(id).catch((err: unknown) => {
          if (isNotFound(err)) return null;
          return err instanceof Error ? err : new Error(String(err));
        }),
      ),
    );
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

export function createLoaders(clients: { npm: NpmClient; axis: AxisClient }, call: CallContext): Loaders {
  const { npm, axis } = clients;
  const status = memo(() => npm.getStatus(call));
  const accounts = memo(() => npm.listAccounts(call));
  const azureAccountById = new DataLoader<string, AzureAccount | null>(async (ids) => {
    const list = await accounts.get();
    const byId = new Map(list.map((a) => [a.accId, a]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const userById = new DataLoader<string, AxisUser | null>(byIdBatch((id) => axis.getUser(id, call)));
  const groupById = new DataLoader<string, AxisGroup | null>(byIdBatch((id) => axis.getGroup(id, call)));

  return {
    cloudStatus: status.get,
    azureAccounts: accounts.get,
    azureAccountById,
    userById,
    groupById,
    primeUsers(users) {
      for (const u of users) userById.clear(u.id).prime(u.id, u);
    },
    primeGroups(groups) {
      for (const g of groups) groupById.clear(g.id).prime(g.id, g);
    },
    forgetAxis() {
      userById.clearAll();
      groupById.clearAll();
    },
    forgetNpm() {
      status.forget();
      accounts.forget();
      azureAccountById.clearAll();
    },
  };
}
