import type { VendorErrorBody } from '../http.js';
import { MappingIssue, checkedWire } from '../wire.js';

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
 * The wire schemas check shapes only (JSON Schema, compiled once by ajv: see wire.ts), and
 * one plain function per entity maps a checked wire object to its domain type.
 */

interface RefWire {
  id: string | number;
  value?: unknown;
}

interface UserWire {
  id: string | number;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled?: boolean | null;
  /** ISO date-time, or empty/absent for "never expires" (checked by toUser). */
  expiration?: string | null;
  groups?: RefWire[] | null;
  hasSshPrivateKey?: boolean | null;
}

interface GroupWire {
  id: string | number;
  name: string;
  description?: string | null;
  users?: RefWire[] | null;
}

interface PageWire<T> {
  pageNumber: number;
  pageSize: number;
  totalPages: number;
  totalRecords: number;
  data?: T[] | null;
}

const wireIdSchema = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'number' }] };
const refsSchema = {
  type: ['array', 'null'],
  items: { type: 'object', required: ['id'], properties: { id: { type: ['string', 'number'] } } },
};

const userSchema = {
  type: 'object',
  required: ['id', 'userName', 'email', 'firstName', 'lastName'],
  properties: {
    id: wireIdSchema,
    userName: { type: 'string' },
    email: { type: 'string' },
    firstName: { type: 'string' },
    lastName: { type: 'string' },
    enabled: { type: ['boolean', 'null'] },
    expiration: { type: ['string', 'null'] },
    groups: refsSchema,
    hasSshPrivateKey: { type: ['boolean', 'null'] },
  },
};

const groupSchema = {
  type: 'object',
  required: ['id', 'name'],
  properties: {
    id: wireIdSchema,
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    users: refsSchema,
  },
};

const pageSchema = (item: object) => ({
  type: 'object',
  required: ['pageNumber', 'pageSize', 'totalPages', 'totalRecords'],
  properties: {
    pageNumber: { type: 'integer' },
    pageSize: { type: 'integer' },
    totalPages: { type: 'integer' },
    totalRecords: { type: 'integer' },
    data: { type: ['array', 'null'], items: item },
  },
});

const toRef = (r: RefWire): AxisRef => ({ id: String(r.id), name: refDisplayName(r.value) });

/** A checked wire user as the domain sees it; undefined when its expiration is not a date-time. */
function toUser(w: UserWire): AxisUser | undefined {
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

const toGroup = (w: GroupWire): AxisGroup => ({
  id: String(w.id),
  name: w.name,
  description: w.description ?? null,
  users: w.users ? w.users.map(toRef) : [],
});

export const axisUserWire = checkedWire<UserWire, AxisUser>(
  userSchema,
  (w) => toUser(w) ?? new MappingIssue(['expiration']),
);

export const axisGroupWire = checkedWire<GroupWire, AxisGroup>(groupSchema, toGroup);

export const axisUserPageWire = checkedWire<PageWire<UserWire>, AxisPage<AxisUser>>(pageSchema(userSchema), (w) => {
  const wire = w.data ?? [];
  const data = new Array<AxisUser>(wire.length);
  for (let i = 0; i < wire.length; i++) {
    const user = toUser(wire[i]!);
    if (user === undefined) return new MappingIssue(['data', i, 'expiration']);
    data[i] = user;
  }
  return {
    pageNumber: w.pageNumber,
    pageSize: w.pageSize,
    totalPages: w.totalPages,
    totalRecords: w.totalRecords,
    data,
  };
});

export const axisGroupPageWire = checkedWire<PageWire<GroupWire>, AxisPage<AxisGroup>>(
  pageSchema(groupSchema),
  (w) => ({
    pageNumber: w.pageNumber,
    pageSize: w.pageSize,
    totalPages: w.totalPages,
    totalRecords: w.totalRecords,
    data: (w.data ?? []).map(toGroup),
  }),
);

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
