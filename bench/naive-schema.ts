/**
 * The reference servers' executable schema: the gateway's own schema.graphql with naive
 * resolvers that call the upstreams directly (bench/upstream-pools.ts) and map the wire
 * shapes inline. No validation of upstream bodies, no loaders, no error mapping, no logs:
 * what a team writes on its first day with a GraphQL server. Both reference servers
 * (naive graphql-yoga, fastify + mercurius with graphql-jit) run this same schema, so the
 * difference between them is the server alone.
 *
 * They serve the benchmark's operations (bench/scenarios.ts) and answer them with the
 * gateway's bytes (test/bench/floor-parity.test.ts checks both). Per request they make the
 * calls the gateway makes: Q3's group descriptions and member emails come from the two
 * 1000-lists, fetched once per request on first use (a per-request memo, not a cache); once a
 * list has arrived, fields read from it without a promise, as the gateway's loaders do, so that
 * Q3 compares the servers rather than promise counts (9 000 member fields per request). Unlike
 * the gateway, which starts both lists at once, the naive resolvers fetch the member list only
 * when the first member email resolves: one more round trip for Q3.
 */
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { enabledFlag, mergedUser, syncState } from './upstream-pools.js';
import type {
  AxisGroupWire,
  AxisPageWire,
  AxisRefWire,
  AxisUserWire,
  BenchUpstreams,
  NpmAccountWire,
  NpmStatusWire,
  UpdateUserVariables,
} from './upstream-pools.js';

/** Per request: the two 1000-lists, fetched at most once each, and each once it has arrived. */
export interface NaiveContext {
  usersById?: Promise<Map<string, AxisUserWire>>;
  groupsById?: Promise<Map<string, AxisGroupWire>>;
  users?: Map<string, AxisUserWire>;
  groups?: Map<string, AxisGroupWire>;
}

/** A user from `group.users`: the id and the userName the reference carries, nothing else. */
interface UserRef {
  ref: true;
  id: string;
  userName: string | undefined;
}
/** A group from `user.groups`: the id and the name the reference carries. */
interface GroupRef {
  ref: true;
  id: string;
  name: string | undefined;
}
type UserSource = AxisUserWire | UserRef;
type GroupSource = AxisGroupWire | GroupRef;

const isRef = (source: UserSource | GroupSource): source is UserRef | GroupRef => 'ref' in source;

/** Epoch seconds to a Date, 0 or absent is "never" (null): what the DateTime scalar serialises. */
const fromEpoch = (seconds: number | null | undefined): Date | null => (seconds ? new Date(seconds * 1000) : null);

const LIST_SIZE = 1000;

export function createNaiveSchema(sdl: string, upstreams: BenchUpstreams): GraphQLSchema {
  const { npmGet, axisCall } = upstreams;

  async function listById<T extends { id: string }>(path: string): Promise<Map<string, T>> {
    const page = await axisCall<AxisPageWire<T>>('GET', `${path}?pageSize=${LIST_SIZE}&pageNumber=1`);
    return new Map((page.data ?? []).map((item) => [item.id, item]));
  }

  function found<T>(list: Map<string, T>, id: string, what: string): T {
    const item = list.get(id);
    if (item === undefined) throw new Error(`${what} ${id} is not in the list`);
    return item;
  }

  function wholeUser(source: UserRef, ctx: NaiveContext): AxisUserWire | Promise<AxisUserWire> {
    if (ctx.users !== undefined) return found(ctx.users, source.id, 'user');
    ctx.usersById ??= listById<AxisUserWire>('/users').then((list) => (ctx.users = list));
    return ctx.usersById.then((list) => found(list, source.id, 'user'));
  }

  function wholeGroup(source: GroupRef, ctx: NaiveContext): AxisGroupWire | Promise<AxisGroupWire> {
    if (ctx.groups !== undefined) return found(ctx.groups, source.id, 'group');
    ctx.groupsById ??= listById<AxisGroupWire>('/groups').then((list) => (ctx.groups = list));
    return ctx.groupsById.then((list) => found(list, source.id, 'group'));
  }

  const then = <T, R>(value: T | Promise<T>, read: (v: T) => R): R | Promise<R> =>
    value instanceof Promise ? value.then(read) : read(value);

  /** A field of the whole entity: straight from a whole one, from the list for a reference. */
  const userField =
    <R>(read: (user: AxisUserWire) => R) =>
    (source: UserSource, _args: unknown, ctx: NaiveContext): R | Promise<R> =>
      isRef(source) ? then(wholeUser(source, ctx), read) : read(source);

  const groupField =
    <R>(read: (group: AxisGroupWire) => R) =>
    (source: GroupSource, _args: unknown, ctx: NaiveContext): R | Promise<R> =>
      isRef(source) ? then(wholeGroup(source, ctx), read) : read(source);

  const page = <T>(wire: AxisPageWire<T>) => ({
    pageNumber: wire.pageNumber,
    pageSize: wire.pageSize,
    totalPages: wire.totalPages,
    totalRecords: wire.totalRecords,
    nodes: wire.data ?? [],
  });

  const cloudStatus = (w: NpmStatusWire) => ({
    enabled: enabledFlag(w.enabled),
    state: syncState(w.state),
    errorId: w.error_id ?? null,
    errorText: w.error_text ?? null,
    lastSyncAt: fromEpoch(w.last_sync_ts),
    lastSuccessAt: fromEpoch(w.last_success_ts),
  });

  const resolvers = {
    DateTime: DateTimeResolver,
    Query: {
      azureStatus: async () => cloudStatus(await npmGet<NpmStatusWire>('/status')),
      azureAccounts: async () =>
        (await npmGet<NpmAccountWire[]>('/auth_codes')).map((a) => ({
          accId: a.acc_id,
          tenantId: a.tenant_id,
          subscriptionId: a.subscription_id,
          appId: a.app_id,
        })),
      user: (_root: unknown, args: { id: string }) =>
        axisCall<AxisUserWire>('GET', `/users/${encodeURIComponent(args.id)}`),
      users: async (_root: unknown, args: { pageSize: number; pageNumber: number }) =>
        page(
          await axisCall<AxisPageWire<AxisUserWire>>(
            'GET',
            `/users?pageSize=${args.pageSize}&pageNumber=${args.pageNumber}`,
          ),
        ),
      group: (_root: unknown, args: { id: string }) =>
        axisCall<AxisGroupWire>('GET', `/groups/${encodeURIComponent(args.id)}`),
      groups: async (_root: unknown, args: { pageSize: number; pageNumber: number }) =>
        page(
          await axisCall<AxisPageWire<AxisGroupWire>>(
            'GET',
            `/groups?pageSize=${args.pageSize}&pageNumber=${args.pageNumber}`,
          ),
        ),
    },
    Mutation: {
      updateUser: async (_root: unknown, args: UpdateUserVariables) => {
        const path = `/users/${encodeURIComponent(args.id)}`;
        // Two reads, as the gateway's locked read-merge-write and the floor make them.
        await axisCall<AxisUserWire>('GET', path);
        const current = await axisCall<AxisUserWire>('GET', path);
        const updated = await axisCall<AxisUserWire>('PUT', path, mergedUser(current, args.input));
        // AXIS_AUTO_COMMIT's default: every write is committed at once.
        await axisCall<undefined>('POST', '/commit');
        return updated;
      },
    },
    User: {
      id: (source: UserSource) => source.id,
      userName: (source: UserSource, args: unknown, ctx: NaiveContext) =>
        isRef(source) && source.userName !== undefined
          ? source.userName
          : userField((u) => u.userName)(source, args, ctx),
      email: userField((u) => u.email),
      firstName: userField((u) => u.firstName),
      lastName: userField((u) => u.lastName),
      enabled: userField((u) => u.enabled ?? true),
      expiration: userField((u) => (u.expiration ? new Date(u.expiration) : null)),
      hasSshPrivateKey: userField((u) => u.hasSshPrivateKey ?? false),
      groups: userField((u) =>
        (u.groups ?? []).map((g: AxisRefWire): GroupRef => ({ ref: true, id: g.id, name: g.value })),
      ),
    },
    Group: {
      id: (source: GroupSource) => source.id,
      name: (source: GroupSource, args: unknown, ctx: NaiveContext) =>
        isRef(source) && source.name !== undefined ? source.name : groupField((g) => g.name)(source, args, ctx),
      description: groupField((g) => g.description ?? null),
      users: groupField((g) => (g.users ?? []).map((m): UserRef => ({ ref: true, id: m.id, userName: m.value }))),
    },
  };
  return makeExecutableSchema<NaiveContext>({ typeDefs: sdl, resolvers });
}
