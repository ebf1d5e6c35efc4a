import { GatewayError } from '../errors.js';
import type { GatewayContext } from '../context.js';
import type { AxisGroup, AxisRef, AxisUser } from '../upstreams/axis/types.js';
import { GROUP_REF_FIELDS, USER_REF_FIELDS, isRef } from './sources.js';
import type { GroupSource, UserSource } from './sources.js';

/**
 * The whole entity behind a parent: the parent itself, or the loader's copy for a
 * reference. A reference whose entity is gone (deleted between the two reads) is a
 * NOT_FOUND error, not a silent null in a non-null position.
 */
export function fullUser(source: UserSource, ctx: GatewayContext): AxisUser | Promise<AxisUser> {
  if (!isRef(source)) return source;
  // Held already (from a page or a list): no promise.
  return ctx.loaders.peekUser(source.id) ?? loadUser(source.id, ctx);
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

/** How one kind of reference (`user.groups`, `group.users`) is answered: see answerRefs. */
interface RefKind<E, R> {
  /** The fields a reference answers on its own. */
  readonly fields: ReadonlySet<string>;
  /** The field of the display name a reference carries when the IdP sent one. */
  readonly nameField: string;
  ref(ref: AxisRef): R;
  /** The whole entity when the request holds it already. */
  peek(id: string, ctx: GatewayContext): E | undefined;
  load(id: string, ctx: GatewayContext): Promise<E>;
}

/**
 * What a `user.groups` or `group.users` field answers: each reference itself when the
 * selection asks only for what a reference holds (its id, and its display name when the IdP
 * sent one), else the whole entity, from what the request holds or through its loader (one
 * batch for the list). So the scalar fields of User and Group have no resolvers: they read
 * their parent, which graphql-jit compiles to a property read, where a resolver per field
 * cost a call, a resolve info and a promise check on every entity, a fifth of the
 * dashboard's CPU. An entity that is gone (deleted between the two reads) fails the list,
 * as its non-null fields failed it before (`[Group!]!`, `[User!]!`).
 *
 * A list with entities still to load is paced first, like any list (request-budget.ts): a
 * few hundred groups of 500 members would otherwise start 150 000 loads in one turn.
 */
export function answerRefs<E, R>(
  kind: RefKind<E, R>,
  refs: readonly AxisRef[],
  selected: ReadonlySet<string>,
  ctx: GatewayContext,
): Array<E | R> | Promise<Array<E | R>> {
  let refsAnswer = true;
  for (const name of selected) {
    if (!kind.fields.has(name)) {
      refsAnswer = false;
      break;
    }
  }
  const needsName = selected.has(kind.nameField);
  const out = new Array<E | R | undefined>(refs.length);
  let missing = false;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i]!;
    if (refsAnswer && (ref.name !== null || !needsName)) {
      out[i] = kind.ref(ref);
    } else {
      const held = kind.peek(ref.id, ctx);
      if (held === undefined) missing = true;
      out[i] = held;
    }
  }
  if (!missing) return out as Array<E | R>;
  const loadMissing = () =>
    Promise.all(out.map((entity, i) => (entity === undefined ? kind.load(refs[i]!.id, ctx) : entity)));
  const paced = ctx.call.budget?.pace(refs, refs.length);
  return paced instanceof Promise ? paced.then(loadMissing) : loadMissing();
}

/** `group.users`: user references, or whole users when the selection needs more. */
export const USER_REFS: RefKind<AxisUser, UserSource> = {
  fields: USER_REF_FIELDS,
  nameField: 'userName',
  ref: (ref) => ({ kind: 'ref', id: ref.id, userName: ref.name }),
  peek: (id, ctx) => ctx.loaders.peekUser(id),
  load: loadUser,
};

/** `user.groups`: group references, or whole groups when the selection needs more. */
export const GROUP_REFS: RefKind<AxisGroup, GroupSource> = {
  fields: GROUP_REF_FIELDS,
  nameField: 'name',
  ref: (ref) => ({ kind: 'ref', id: ref.id, name: ref.name }),
  peek: (id, ctx) => ctx.loaders.peekGroup(id),
  load: loadGroup,
};
