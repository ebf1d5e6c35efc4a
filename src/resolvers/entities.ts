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
export function fullUser(source: UserSource, ctx: GatewayContext): AxisUser | Promise<AxisUser> {
  if (!isRef(source)) return source;
  // Held already (from a page or a list): no promise, which matters across thousands of fields.
  return ctx.loaders.peekUser(source.id) ?? loadUser(source.id, ctx);
}

/** Apply `read` to a value that may still be on its way (named so the module never looks like a thenable). */
export function mapMaybe<T, R>(value: T | Promise<T>, read: (v: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(read) : read(value);
}

async function loadUser(id: string, ctx: GatewayContext): Promise<AxisUser> {
  const user = await ctx.loaders.userById.load(id);
  if (user === null) throw new GatewayError('NOT_FOUND', `User ${id} is referenced but no longer exists.`);
  return user;
}

export function fullGroup(source: GroupSource, ctx: GatewayContext): AxisGroup | Promise<AxisGroup> {
  if (!isRef(source)) return source;
  return ctx.loaders.peekGroup(source.id) ?? loadGroup(source.id, ctx);
}

async function loadGroup(id: string, ctx: GatewayContext): Promise<AxisGroup> {
  const group = await ctx.loaders.groupById.load(id);
  if (group === null) throw new GatewayError('NOT_FOUND', `Group ${id} is referenced but no longer exists.`);
  return group;
}
