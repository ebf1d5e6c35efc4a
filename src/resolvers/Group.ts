import type { GroupResolvers } from '../generated/resolvers-types.js';
import type { AxisGroup } from '../upstreams/axis/types.js';
import type { GatewayContext } from '../context.js';
import { fullGroup, mapMaybe } from './entities.js';
import { toGlobalId } from './global-id.js';
import { selectsBeyond } from './lookahead.js';
import { isRef } from './sources.js';
import type { GroupSource } from './sources.js';

/** What a group reference answers without a fetch. */
export const GROUP_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'nodeId', 'name', '__typename']);

/** A field of the whole group: synchronous for a whole group, through the loader for a reference. */
function field<K extends keyof AxisGroup>(key: K) {
  return (group: GroupSource, _args: unknown, ctx: GatewayContext): AxisGroup[K] | Promise<AxisGroup[K]> =>
    mapMaybe(fullGroup(group, ctx), (g) => g[key]);
}

function userRefs(group: AxisGroup) {
  return group.users.map((ref) => ({ kind: 'ref' as const, id: ref.id, userName: ref.name }));
}

export const Group: GroupResolvers = {
  id: (group) => group.id,
  nodeId: (group) => toGlobalId('Group', group.id),
  // A reference from `user.groups` already carries the name: no fetch for `groups { id name }`.
  name: (group, args, ctx) => (isRef(group) && group.name !== null ? group.name : field('name')(group, args, ctx)),
  description: field('description'),
  users: (group, _args, ctx, info) => {
    if (selectsBeyond(info, 'groups', GROUP_REF_FIELDS)) ctx.loaders.prefetchGroups();
    return mapMaybe(fullGroup(group, ctx), userRefs);
  },
};
