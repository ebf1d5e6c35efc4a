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

const ref = z
  .object({ id: z.union([z.string(), z.number()]).transform(String), value: z.unknown().optional() })
  .transform((r): AxisRef => ({ id: r.id, name: refDisplayName(r.value) }));

/** ISO date-time, or empty/absent for "never expires". */
const expiration = z
  .string()
  .nullish()
  .transform((v, ctx) => {
    if (v === null || v === undefined || v.trim() === '') return null;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'not a date-time' });
      return z.NEVER;
    }
    return d;
  });

const id = z.union([z.string().min(1), z.number()]).transform(String);

export const axisUserWire = z
  .object({
    id,
    userName: z.string(),
    email: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    enabled: z.boolean().nullish(),
    expiration,
    groups: z.array(ref).nullish(),
    hasSshPrivateKey: z.boolean().nullish(),
  })
  .transform((w): AxisUser => ({
    id: w.id,
    userName: w.userName,
    email: w.email,
    firstName: w.firstName,
    lastName: w.lastName,
    // Documented default: enabled unless said otherwise.
    enabled: w.enabled ?? true,
    expiration: w.expiration,
    hasSshPrivateKey: w.hasSshPrivateKey ?? false,
    groups: w.groups ?? [],
  }));

export const axisGroupWire = z
  .object({
    id,
    name: z.string(),
    description: z.string().nullish(),
    users: z.array(ref).nullish(),
  })
  .transform((w): AxisGroup => ({ id: w.id, name: w.name, description: w.description ?? null, users: w.users ?? [] }));

function pageOf<T>(item: z.ZodType<T>) {
  return z
    .object({
      pageNumber: z.number().int(),
      pageSize: z.number().int(),
      totalPages: z.number().int(),
      totalRecords: z.number().int(),
      data: z.array(item).nullish(),
    })
    .transform((w): AxisPage<T> => ({
      pageNumber: w.pageNumber,
      pageSize: w.pageSize,
      totalPages: w.totalPages,
      totalRecords: w.totalRecords,
      data: w.data ?? [],
    }));
}

export const axisUserPageWire = pageOf(axisUserWire);
export const axisGroupPageWire = pageOf(axisGroupWire);

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
