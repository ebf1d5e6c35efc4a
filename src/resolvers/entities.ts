import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import type { AxisGroup, AxisUser } from '../upstreams/axis/types.js';
import { isRef } from './sources.js';
import type { GroupSource, UserSource } from './sources.js';

/**
 * The whole entity behind a parent: the parent itself, or the loader's copy for a
 * reference. A reference whose entity is gone (deleted between the two reads) is an error
 * on that field, not a silent null in a non-null position.
 */
export async function fullUser(source: UserSource, ctx: GatewayContext): Promise<AxisUser> {
  if (!isRef(source)) return source;
  const user = await ctx.loaders.userById.load(source.id);
  if (user === null) throw new GatewayError('NOT_FOUND', `User ${source.id} is referenced but no longer exists.`);
  return user;
}

export async function fullGroup(source: GroupSource, ctx: GatewayContext): Promise<AxisGroup> {
  if (!isRef(source)) return source;
  const group = await ctx.loaders.groupById.load(source.id);
  if (group === null) throw new GatewayError('NOT_FOUND', `Group ${source.id} is referenced but no longer exists.`);
  return group;
}
