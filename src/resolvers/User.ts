import type { UserResolvers } from '../generated/resolvers-types.js';
import type { AxisUser } from '../upstreams/axis/types.js';
import type { GatewayContext } from '../context.js';
import { fullUser, mapMaybe } from './entities.js';
import { toGlobalId } from './global-id.js';
import { selectsBeyond } from './lookahead.js';
import { isRef } from './sources.js';
import type { UserSource } from './sources.js';

/** What a user reference answers without a fetch. */
export const USER_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'nodeId', 'userName', '__typename']);

/**
 * A field of the whole user: read at once from a whole user (the usual case: a page or a
 * lookup), through the loader for a reference. Staying synchronous for whole users spares
 * graphql-js a promise per field, which is most of the cost of a 50-user page.
 */
function field<K extends keyof AxisUser>(key: K) {
  return (user: UserSource, _args: unknown, ctx: GatewayContext): AxisUser[K] | Promise<AxisUser[K]> =>
    mapMaybe(fullUser(user, ctx), (u) => u[key]);
}

function groupRefs(user: AxisUser) {
  return user.groups.map((ref) => ({ kind: 'ref' as const, id: ref.id, name: ref.name }));
}

export const User: UserResolvers = {
  id: (user) => user.id,
  nodeId: (user) => toGlobalId('User', user.id),
  // A reference from `group.users` already carries the userName: no fetch for `users { id userName }`.
  userName: (user, args, ctx) =>
    isRef(user) && user.userName !== null ? user.userName : field('userName')(user, args, ctx),
  email: field('email'),
  firstName: field('firstName'),
  lastName: field('lastName'),
  enabled: field('enabled'),
  expiration: field('expiration'),
  hasSshPrivateKey: field('hasSshPrivateKey'),
  groups: (user, _args, ctx, info) => {
    // `groups { users { email } }`: those users are needed one level down; list them now,
    // in parallel with the groups themselves.
    if (selectsBeyond(info, 'users', USER_REF_FIELDS)) ctx.loaders.prefetchUsers();
    return mapMaybe(fullUser(user, ctx), groupRefs);
  },
};
