import type { QueryResolvers } from '../generated/resolvers-types.js';
import { idSchema, pageArgs, validate } from './validation.js';

export const Query: QueryResolvers = {
  azureStatus: (_parent, _args, ctx) => ctx.loaders.cloudStatus(),

  azureAccounts: (_parent, _args, ctx) => ctx.loaders.azureAccounts(),

  azureAccount: (_parent, args, ctx) => ctx.loaders.azureAccountById.load(validate(idSchema, args.accId, 'accId')),

  user: (_parent, args, ctx) => ctx.loaders.userById.load(validate(idSchema, args.id, 'id')),

  users: (_parent, args, ctx) => ctx.loaders.userPage(validate(pageArgs, args, '')),

  group: (_parent, args, ctx) => ctx.loaders.groupById.load(validate(idSchema, args.id, 'id')),

  groups: (_parent, args, ctx) => ctx.loaders.groupPage(validate(pageArgs, args, '')),
};
