import type { GroupResolvers } from '../generated/resolvers-types.js';
import { USER_REFS, answerRefs, fullGroup } from './entities.js';
import { toGlobalId } from './global-id.js';
import { selectedFields, selectsBeyond } from './lookahead.js';
import { GROUP_REF_FIELDS } from './sources.js';

/**
 * Every other field (id, name, description) reads its parent: a whole group, or a reference
 * where the selection asks only for what a reference holds (answerRefs, in `user.groups`).
 */
export const Group: GroupResolvers = {
  nodeId: (group) => toGlobalId('Group', group.id),
  users: (group, _args, ctx, info) => {
    if (selectsBeyond(info, 'groups', GROUP_REF_FIELDS)) ctx.loaders.prefetchGroups();
    const selected = selectedFields(info);
    const parent = fullGroup(group, ctx);
    return parent instanceof Promise
      ? parent.then((p) => answerRefs(USER_REFS, p.users, selected, ctx))
      : answerRefs(USER_REFS, parent.users, selected, ctx);
  },
};
