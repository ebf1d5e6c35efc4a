import { DateTimeResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/resolvers-types.js';
import { Group } from './Group.js';
import { Mutation } from './Mutation.js';
import { AzureAccount, CloudStatus, Node, relayQueryFields } from './Node.js';
import { GroupPage, UserPage } from './pages.js';
import { Query } from './Query.js';
import { Subscription } from './Subscription.js';
import { User } from './User.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  Query: { ...Query, ...relayQueryFields },
  Mutation,
  Subscription,
  User,
  Group,
  UserPage,
  GroupPage,
  Node,
  AzureAccount,
  CloudStatus,
};
