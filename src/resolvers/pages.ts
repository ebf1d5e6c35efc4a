import type { GroupPageResolvers, UserPageResolvers } from '../generated/resolvers-types.js';

export const UserPage: UserPageResolvers = {
  nodes: (page) => page.data,
};

export const GroupPage: GroupPageResolvers = {
  nodes: (page) => page.data,
};
