import type { GroupResolvers } from '../generated/resolvers-types.js';
import { fullGroup } from './entities.js';
import { selectsBeyond } from './lookahead.js';
import { isRef } from './sources.js';

/** What a group reference answers without a fetch. */
export const GROUP_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'name', '__typename']);

export const Group: GroupResolvers = {
  id: (group) => group.id,
  // A reference from `user.groups` already carries the name: no fetch for `groups { id name }`.
  name: async (group, _args, ctx) =>
    isRef(group) && group.name !== null ? group.name : (await fullGroup(group, ctx)).name,
  description: async (group, _args, ctx) => (await fullGroup(group, ctx)).description,
  users: async (group, _args, ctx, info) => {
    if (selectsBeyond(info, 'groups', GROUP_REF_FIELDS)) ctx.loaders.prefetchGroups();
    return (await fullGroup(group, ctx)).users.map((ref) => ({ kind: 'ref' as const, id: ref.id, userName: ref.name }));
  },
};
