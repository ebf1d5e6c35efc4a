import { z } from 'zod';
import type { GatewayContext } from '../context.js';
import type {
  AzureAccountResolvers,
  CloudStatusResolvers,
  NodeResolvers,
  QueryResolvers,
} from '../generated/resolvers-types.js';
import type { AxisGroup, AxisUser } from '../upstreams/axis/types.js';
import type { AzureAccount as AzureAccountModel, CloudStatus as CloudStatusModel } from '../upstreams/npm/types.js';
import { loadConnection } from './connections.js';
import { CLOUD_STATUS_KEY, parseGlobalId, toGlobalId } from './global-id.js';
import { idSchema, validate } from './validation.js';

/**
 * Relay's object identification and connections, beside the existing lookups and pages.
 * `node`/`nodes` decode the global id and go through the very loaders `user`, `group`,
 * `azureAccount` and `azureStatus` use, so ten `nodes` cost what ten aliased `user` fields
 * cost (the user loader batches them: one list page instead of ten GETs when the tenant
 * fits one page), and a node already held by the request costs nothing.
 */

/** Most ids one `nodes` takes. */
const MAX_NODE_IDS = 100;

const nodeIds = z
  .array(z.string())
  .min(1, 'must hold at least one id')
  .max(MAX_NODE_IDS, `must hold at most ${MAX_NODE_IDS} ids`);

type NodeSource = AxisUser | AxisGroup | AzureAccountModel | CloudStatusModel;

/** Decodes and checks one global id (BAD_USER_INPUT naming `field`), before any upstream call. */
function parseNodeId(id: string, field: string) {
  const node = parseGlobalId(id, field);
  if (node.type !== 'CloudStatus') validate(idSchema, node.key, field);
  return node;
}

function load(node: ReturnType<typeof parseNodeId>, ctx: GatewayContext): Promise<NodeSource | null> {
  switch (node.type) {
    case 'User':
      return ctx.loaders.userById.load(node.key);
    case 'Group':
      return ctx.loaders.groupById.load(node.key);
    case 'AzureAccount':
      return ctx.loaders.azureAccountById.load(node.key);
    case 'CloudStatus':
      return ctx.loaders.cloudStatus();
  }
}

/** The GraphQL type of what `load` returned (the parent shapes have no common tag). */
function typeOf(source: object): 'User' | 'Group' | 'AzureAccount' | 'CloudStatus' {
  if ('accId' in source) return 'AzureAccount';
  if ('state' in source) return 'CloudStatus';
  if ('userName' in source) return 'User';
  return 'Group';
}

export const Node: NodeResolvers = {
  __resolveType: (source) => typeOf(source),
};

export const relayQueryFields: Pick<QueryResolvers, 'node' | 'nodes' | 'usersConnection' | 'groupsConnection'> = {
  node: (_parent, args, ctx) => load(parseNodeId(args.id, 'id'), ctx),

  // Every id is checked before the first load; each item is its own promise, so one failed
  // lookup is an error at its index, not the loss of the whole list.
  nodes: (_parent, args, ctx) => {
    const parsed = validate(nodeIds, args.ids, 'ids').map((id, i) => parseNodeId(id, `ids[${i}]`));
    // (The generated type has no room for a promise of null in a list of nullable items.)
    return parsed.map((node) => load(node, ctx)) as Array<Promise<NodeSource>>;
  },

  // Pages through the loaders, which prime every entity they bring.
  usersConnection: (_parent, args, ctx) => loadConnection(args, (page) => ctx.loaders.userPage(page)),

  groupsConnection: (_parent, args, ctx) => loadConnection(args, (page) => ctx.loaders.groupPage(page)),
};

export const AzureAccount: AzureAccountResolvers = {
  nodeId: (account) => toGlobalId('AzureAccount', account.accId),
};

export const CloudStatus: CloudStatusResolvers = {
  nodeId: () => toGlobalId('CloudStatus', CLOUD_STATUS_KEY),
};
