import type { AxisGroup, AxisPage, AxisUser } from '../upstreams/axis/types.js';
import type { ConnectionSource, Edge } from './connections.js';

/**
 * What the User and Group resolvers receive as parents: a whole entity from the IdP, or
 * the reference another entity embeds (`user.groups`, `group.users`). A reference answers
 * `id` and the display name on its own; any other field loads the entity through the
 * per-request loader.
 */
interface UserRef {
  kind: 'ref';
  id: string;
  userName: string | null;
}

interface GroupRef {
  kind: 'ref';
  id: string;
  name: string | null;
}

/** What a user reference answers without a fetch. */
export const USER_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'nodeId', 'userName', '__typename']);

/** What a group reference answers without a fetch. */
export const GROUP_REF_FIELDS: ReadonlySet<string> = new Set(['id', 'nodeId', 'name', '__typename']);

export type UserSource = AxisUser | UserRef;
export type GroupSource = AxisGroup | GroupRef;
export type UserPageSource = AxisPage<AxisUser>;
export type GroupPageSource = AxisPage<AxisGroup>;
export type UserConnectionSource = ConnectionSource<AxisUser>;
export type GroupConnectionSource = ConnectionSource<AxisGroup>;
export type UserEdgeSource = Edge<AxisUser>;
export type GroupEdgeSource = Edge<AxisGroup>;

export function isRef<T extends UserSource | GroupSource>(source: T): source is Extract<T, { kind: 'ref' }> {
  return 'kind' in source;
}
