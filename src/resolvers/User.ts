import type { UserResolvers } from '../generated/resolvers-types.js';
import { fullUser } from './entities.js';
import { selectsBeyond } from './lookahead.js';
import { isRef } from './sources.js';

/** What a user reference answers without a fetch. */
export const USER_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'userName', '__typename']);

export const User: UserResolvers = {
  id: (user) => user.id,
  // A reference from `group.users` already carries the userName: no fetch for `users { id userName }`.
  userName: async (user, _args, ctx) =>
    isRef(user) && user.userName !== null ? user.userName : (await fullUser(user, ctx)).userName,
  email: async (user, _args, ctx) => (await fullUser(user, ctx)).email,
  firstName: async (user, _args, ctx) => (await fullUser(user, ctx)).firstName,
  lastName: async (user, _args, ctx) => (await fullUser(user, ctx)).lastName,
  enabled: async (user, _args, ctx) => (await fullUser(user, ctx)).enabled,
  expiration: async (user, _args, ctx) => (await fullUser(user, ctx)).expiration,
  hasSshPrivateKey: async (user, _args, ctx) => (await fullUser(user, ctx)).hasSshPrivateKey,
  groups: async (user, _args, ctx, info) => {
    // `groups { users { email } }`: those users are needed one level down; list them now,
    // in parallel with the groups themselves.
    if (selectsBeyond(info, 'users', USER_REF_FIELDS)) ctx.loaders.prefetchUsers();
    return (await fullUser(user, ctx)).groups.map((ref) => ({ kind: 'ref' as const, id: ref.id, name: ref.name }));
  },
};
