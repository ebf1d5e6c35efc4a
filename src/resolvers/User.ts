import type { UserResolvers } from '../generated/resolvers-types.js';
import { GROUP_REFS, answerRefs, fullUser } from './entities.js';
import { toGlobalId } from './global-id.js';
import { selectedFields, selectsBeyond } from './lookahead.js';
import { USER_REF_FIELDS } from './sources.js';

/**
 * Every other field (id, userName, email, ...) reads its parent: a whole user, or a reference
 * where the selection asks only for what a reference holds (answerRefs, in `group.users`).
 */
export const User: UserResolvers = {
  nodeId: (user) => toGlobalId('User', user.id),
  groups: (user, _args, ctx, info) => {
    // `groups { users { email } }`: those users are needed one level down; list them now,
    // in parallel with the groups themselves.
    if (selectsBeyond(info, 'users', USER_REF_FIELDS)) ctx.loaders.prefetchUsers();
    const selected = selectedFields(info);
    const parent = fullUser(user, ctx);
    return parent instanceof Promise
      ? parent.then((p) => answerRefs(GROUP_REFS, p.groups, selected, ctx))
      : answerRefs(GROUP_REFS, parent.groups, selected, ctx);
  },
};
