import { z } from 'zod';
import type { VendorErrorBody } from '../http.js';

/**
 * Wire shapes of the Axis Security Atmos IdP management API and their parsing into domain
 * types. The `{id, value}` references and the paging envelope never leave this file.
 */

/** A reference to a group (in `user.groups`) or a user (in `group.users`). */
export interface AxisRef {
  id: string;
  /** The referenced entity's display name, when the IdP sent one (see refDisplayName). */
  name: string | null;
}

export interface AxisUser {
  id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled: boolean;
  expiration: Date | null;
  hasSshPrivateKey: boolean;
  groups: AxisRef[];
}

export interface AxisGroup {
  id: string;
  name: string;
  description: string | null;
  users: AxisRef[];
}

export interface AxisPage<T> {
  pageNumber: number;
  pageSize: number;
  totalPages: number;
  totalRecords: number;
  data: T[];
}

/** A whole user as Axis PUT expects it: PUT replaces every stored value. */
export interface AxisUserWrite {
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled: boolean;
  expiration: Date | null;
  groupIds: string[];
  /** undefined: keep the stored key; null: remove it; string: store it. Write-only. */
  sshPrivateKey?: string | null | undefined;
}

export interface AxisGroupWrite {
  name: string;
  description: string | null;
  userIds: string[];
}

/**
 * The `value` of an `{id, value}` reference is undocumented. Responses suggest it is the
 * referenced entity's display name: the group name in `user.groups`, the userName in
 * `group.users` (upstream-facts.md, an inference). This is the one place that assumes it;
 * a null here makes the resolvers fetch the entity instead.
 */
function refDisplayName(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/*
 * The wire schemas check shapes only, and one plain function per entity maps a checked
 * wire object to its domain type. A transform per field (every id, every reference) cost
 * as much CPU as JSON.parse itself on a 50-user page; checking first and mapping once
 * costs about a third of that.
 */

const wireId = z.union([z.string().min(1), z.number()]);
const refWire = z.object({ id: z.union([z.string(), z.number()]), value: z.unknown().optional() });

const userShape = z.object({
  id: wireId,
  userName: z.string(),
  email: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  enabled: z.boolean().nullish(),
  /** ISO date-time, or empty/absent for "never expires" (checked by toUser). */
  expiration: z.string().nullish(),
  groups: z.array(refWire).nullish(),
  hasSshPrivateKey: z.boolean().nullish(),
});

const groupShape = z.object({
  id: wireId,
  name: z.string(),
  description: z.string().nullish(),
  users: z.array(refWire).nullish(),
});

type RefWire = z.infer<typeof refWire>;
type UserShape = z.infer<typeof userShape>;
type GroupShape = z.infer<typeof groupShape>;

const toRef = (r: RefWire): AxisRef => ({ id: String(r.id), name: refDisplayName(r.value) });

/** A checked wire user as the domain sees it; undefined when its expiration is not a date-time. */
function toUser(w: UserShape): AxisUser | undefined {
  let expiration: Date | null = null;
  if (w.expiration !== null && w.expiration !== undefined && w.expiration.trim() !== '') {
    expiration = new Date(w.expiration);
    if (Number.isNaN(expiration.getTime())) return undefined;
  }
  return {
    id: String(w.id),
    userName: w.userName,
    email: w.email,
    firstName: w.firstName,
    lastName: w.lastName,
    // Documented default: enabled unless said otherwise.
    enabled: w.enabled ?? true,
    expiration,
    hasSshPrivateKey: w.hasSshPrivateKey ?? false,
    groups: w.groups ? w.groups.map(toRef) : [],
  };
}

const toGroup = (w: GroupShape): AxisGroup => ({
  id: String(w.id),
  name: w.name,
  description: w.description ?? null,
  users: w.users ? w.users.map(toRef) : [],
});

const NOT_A_DATE = { code: 'custom', message: 'not a date-time' } as const;

export const axisUserWire = userShape.transform((w, ctx): AxisUser => {
  const user = toUser(w);
  if (user !== undefined) return user;
  ctx.addIssue({ ...NOT_A_DATE, path: ['expiration'] });
  return z.NEVER;
});

export const axisGroupWire = groupShape.transform(toGroup);

const pageShape = <S extends z.ZodType>(item: S) =>
  z.object({
    pageNumber: z.number().int(),
    pageSize: z.number().int(),
    totalPages: z.number().int(),
    totalRecords: z.number().int(),
    data: z.array(item).nullish(),
  });

export const axisUserPageWire = pageShape(userShape).transform((w, ctx): AxisPage<AxisUser> => {
  const data: AxisUser[] = [];
  const wire = w.data ?? [];
  for (let i = 0; i < wire.length; i++) {
    const user = toUser(wire[i]!);
    if (user === undefined) {
      ctx.addIssue({ ...NOT_A_DATE, path: ['data', i, 'expiration'] });
      return z.NEVER;
    }
    data.push(user);
  }
  return {
    pageNumber: w.pageNumber,
    pageSize: w.pageSize,
    totalPages: w.totalPages,
    totalRecords: w.totalRecords,
    data,
  };
});

export const axisGroupPageWire = pageShape(groupShape).transform((w): AxisPage<AxisGroup> => ({
  pageNumber: w.pageNumber,
  pageSize: w.pageSize,
  totalPages: w.totalPages,
  totalRecords: w.totalRecords,
  data: (w.data ?? []).map(toGroup),
}));

/**
 * Requests send references as `{id}` only. An empty expiration means "never" (the
 * document: "If the field is left blank, the user's account will not expire"), and an
 * empty sshPrivateKey removes the stored key; leaving it out keeps the key, since a client
 * cannot send back a key it can never read.
 */
export function toUserWire(user: AxisUserWrite) {
  return {
    userName: user.userName,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    enabled: user.enabled,
    expiration: user.expiration ? user.expiration.toISOString() : '',
    groups: user.groupIds.map((groupId) => ({ id: groupId })),
    ...(user.sshPrivateKey === undefined ? {} : { sshPrivateKey: user.sshPrivateKey ?? '' }),
  };
}

export function toGroupWire(group: AxisGroupWrite) {
  return {
    name: group.name,
    description: group.description,
    users: group.userIds.map((userId) => ({ id: userId })),
  };
}

/** Axis error body (Swagger `PublicAdminApiError`): `{status: <HttpStatusCode name>, details}`. */
export function parseAxisErrorBody(body: unknown): VendorErrorBody {
  if (typeof body !== 'object' || body === null) return {};
  const { status, details, message } = body as { status?: unknown; details?: unknown; message?: unknown };
  const text = typeof details === 'string' ? details : typeof message === 'string' ? message : undefined;
  return {
    ...(typeof status === 'string' ? { errorId: status } : {}),
    ...(text !== undefined ? { text } : {}),
  };
}
