/**
 * Simulator of the Axis Security Atmos IdP management API (users, groups, commit).
 *
 * Contract: /work/shared/upstream-docs/axis-atmos-idp-api.txt and
 * upstream-facts.md ("Axis Security Atmos management API"). Every error body is
 * the Swagger `PublicAdminApiError`: `{"status": "<.NET HttpStatusCode name>",
 * "details": "..."}`. Behaviour the documents leave open is marked "sim choice".
 *
 * Data layout keeps every per-request operation a Map lookup: users and groups
 * by id, names by lower-case name (uniqueness), membership as two mirrored
 * Map<id, Set<id>>, ids in a sorted array for paging, and each entity's JSON
 * cached until a write touches it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { describeZodError } from './faults.js';
import { createAxisSeed } from './seed.js';
import type { SeedUser } from './seed.js';
import type {
  Route,
  RouteLookup,
  SimRequest,
  SimResponse,
  SimServerOptions,
  SimVendor,
  Simulator,
} from './sim-server.js';
import { NO_CONTENT, bearerToken, createSimServer, jsonReply, parseJsonBody } from './sim-server.js';

const AXIS_ROUTE_NAMES = [
  'users.list',
  'users.get',
  'users.create',
  'users.update',
  'users.delete',
  'groups.list',
  'groups.get',
  'groups.create',
  'groups.update',
  'groups.delete',
  'commit',
] as const;

export type AxisTokenScope = 'rw' | 'ro';

export interface AxisSimulatorOptions {
  /** Path prefix; matched case-insensitively, e.g. `/api/v1` (document) or `/api/v1.0` (Swagger, SDK). */
  readonly prefix?: string;
  readonly tokens?: Readonly<Record<string, AxisTokenScope>>;
  /** Status of a write with a read-only token: 401 per the document, 403 on some versions. */
  readonly readOnlyWriteStatus?: 401 | 403;
  readonly seedUsers?: number;
  readonly seedGroups?: number;
  readonly log?: boolean;
  /** Uniform in [0, 1) for fault rules with `probability`; seed it for deterministic tests. Default `Math.random`. */
  readonly random?: () => number;
  /** Sees every API request (route name and headers) as it arrives: tests check what the gateway sends. */
  readonly onRequest?: SimServerOptions['onRequest'];
}

interface AxisSimState {
  readonly pendingChanges: number;
  readonly commits: number;
  readonly tokensExpired: boolean;
  /** A seed user's shape, with the stored key replaced by what tests may see of it. */
  readonly users: readonly (Omit<SeedUser, 'sshPrivateKey'> & {
    readonly hasSshPrivateKey: boolean;
    /** SHA-256 of the stored key, so tests can prove which key arrived without exposing it. */
    readonly sshPrivateKeySha256: string | null;
  })[];
  readonly groups: readonly {
    readonly id: string;
    readonly name: string;
    readonly description: string | null;
    readonly userIds: readonly string[];
  }[];
}

export type AxisSimulator = Simulator<AxisSimState>;

const AXIS_DEFAULT_TOKENS: Readonly<Record<string, AxisTokenScope>> = Object.freeze({
  'demo-axis-rw-token': 'rw',
  'demo-axis-ro-token': 'ro',
});

/** Text of the document's 401 row for writes. */
const AXIS_READ_ONLY_DETAILS = 'Unauthorized access. Make sure the API token includes writing permissions.';

/** `System.Net.HttpStatusCode` names; `Enum.ToString()` of an undefined value is the number itself. */
const HTTP_STATUS_NAMES: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'NoContent',
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'RequestTimeout',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'UnprocessableEntity',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  501: 'NotImplemented',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

function httpStatusName(status: number): string {
  return HTTP_STATUS_NAMES[status] ?? String(status);
}

const DEFAULT_DETAILS: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Unauthorized access',
  403: 'Forbidden',
  404: 'Entity not found',
  405: 'Method not allowed',
  409: 'Conflict',
  429: 'Too many requests',
  500: 'Internal server error',
};

function axisError(status: number, errorId?: string, text?: string): SimResponse {
  return jsonReply(status, {
    status: errorId ?? httpStatusName(status),
    details: text ?? DEFAULT_DETAILS[status] ?? httpStatusName(status),
  });
}

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

/**
 * ASP.NET Core binds JSON property names case-insensitively, and the document's
 * table spells them `UserName`, `SSHPrivateKey`; so `{"UserName": ...}` binds.
 * Keys are mapped to their canonical spelling before zod sees them.
 */
function canonicalKeys(value: unknown, names: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const canonical = names.find((n) => n.toLowerCase() === key.toLowerCase());
    out[canonical ?? key] = v;
  }
  return out;
}

function canonicalRefs(value: unknown): unknown {
  return Array.isArray(value) ? value.map((v) => canonicalKeys(v, ['id'])) : value;
}

const USER_KEYS = [
  'userName',
  'email',
  'firstName',
  'lastName',
  'enabled',
  'expiration',
  'groups',
  'sshPrivateKey',
] as const;
const GROUP_KEYS = ['name', 'description', 'users'] as const;

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** ISO 8601 date-time -> normalised UTC ISO string, or undefined when invalid (including Feb 30). */
function normaliseExpiration(text: string): string | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  // Sim choice: a time without an offset is taken as UTC (a .NET "unspecified" kind).
  const ms = Date.parse(zone === undefined ? `${text}Z` : text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

const requiredText = z.string().regex(/\S/, 'is required');
const refList = z.array(z.object({ id: z.string().min(1, 'is required') }));

const userBodySchema = z.object({
  userName: requiredText,
  // Loose on purpose: the vendor only promises "the email address to which a link is sent".
  email: z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address'),
  firstName: requiredText,
  lastName: requiredText,
  enabled: z.boolean().optional(),
  expiration: z
    .string()
    .nullable()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === null || value === '') return null;
      const normalised = normaliseExpiration(value);
      if (normalised === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time, empty or null' });
        return z.NEVER;
      }
      return normalised;
    }),
  groups: refList.nullable().optional(),
  sshPrivateKey: z.string().nullable().optional(),
});

const groupBodySchema = z.object({
  name: requiredText,
  description: z.string().nullable().optional(),
  users: refList.nullable().optional(),
});

type UserBody = z.infer<typeof userBodySchema>;
type GroupBody = z.infer<typeof groupBodySchema>;

function parseUserBody(req: SimRequest): { ok: true; value: UserBody } | { ok: false; reply: SimResponse } {
  const body = parseJsonBody(req.body);
  if (!body.ok) return { ok: false, reply: axisError(400, undefined, body.reason) };
  const raw = canonicalKeys(body.value, USER_KEYS);
  if (typeof raw === 'object' && raw !== null && 'groups' in raw) {
    (raw as Record<string, unknown>)['groups'] = canonicalRefs((raw as Record<string, unknown>)['groups']);
  }
  const parsed = userBodySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reply: axisError(400, undefined, describeZodError(parsed.error)) };
  return { ok: true, value: parsed.data };
}

function parseGroupBody(req: SimRequest): { ok: true; value: GroupBody } | { ok: false; reply: SimResponse } {
  const body = parseJsonBody(req.body);
  if (!body.ok) return { ok: false, reply: axisError(400, undefined, body.reason) };
  const raw = canonicalKeys(body.value, GROUP_KEYS);
  if (typeof raw === 'object' && raw !== null && 'users' in raw) {
    (raw as Record<string, unknown>)['users'] = canonicalRefs((raw as Record<string, unknown>)['users']);
  }
  const parsed = groupBodySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reply: axisError(400, undefined, describeZodError(parsed.error)) };
  return { ok: true, value: parsed.data };
}

// ---------------------------------------------------------------------------
// Directory: the staged tenant state
// ---------------------------------------------------------------------------

interface UserRecord {
  readonly id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled: boolean;
  expiration: string | null;
  sshPrivateKey: string | null;
}

interface GroupRecord {
  readonly id: string;
  name: string;
  description: string | null;
}

function sortedInsert(ids: string[], id: string): void {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] ?? '') < id) lo = mid + 1;
    else hi = mid;
  }
  ids.splice(lo, 0, id);
}

function sortedRemove(ids: string[], id: string): void {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ids[mid] ?? '') < id) lo = mid + 1;
    else hi = mid;
  }
  if (ids[lo] === id) ids.splice(lo, 1);
}

const MAX_CACHED_PAGES = 256;

class Directory {
  readonly users = new Map<string, UserRecord>();
  readonly groups = new Map<string, GroupRecord>();
  /** Ids in ascending order: list pages are slices, no per-request sort. */
  readonly userIds: string[] = [];
  readonly groupIds: string[] = [];
  /** Lower-case name -> id: names are unique case-insensitively (409 on duplicates). */
  readonly userIdByName = new Map<string, string>();
  readonly groupIdByName = new Map<string, string>();
  /** Membership is one relation, stored in both directions. */
  readonly groupsOfUser = new Map<string, Set<string>>();
  readonly usersOfGroup = new Map<string, Set<string>>();
  readonly #userJson = new Map<string, string>();
  readonly #groupJson = new Map<string, string>();
  /** Whole list responses, encoded once: a page embeds entities and the id order, so any change drops them all. */
  readonly #pages = new Map<string, Buffer>();

  static fromSeed(userCount: number, groupCount: number): Directory {
    const dir = new Directory();
    const seed = createAxisSeed(userCount, groupCount);
    for (const g of seed.groups) dir.addGroup({ id: g.id, name: g.name, description: g.description });
    for (const u of seed.users) {
      const { groupIds, ...record } = u;
      dir.addUser({ ...record });
      dir.setGroupsOfUser(u.id, groupIds);
    }
    return dir;
  }

  addUser(user: UserRecord): void {
    this.users.set(user.id, user);
    this.userIdByName.set(user.userName.toLowerCase(), user.id);
    this.groupsOfUser.set(user.id, new Set());
    sortedInsert(this.userIds, user.id);
    this.#pages.clear();
  }

  addGroup(group: GroupRecord): void {
    this.groups.set(group.id, group);
    this.groupIdByName.set(group.name.toLowerCase(), group.id);
    this.usersOfGroup.set(group.id, new Set());
    sortedInsert(this.groupIds, group.id);
    this.#pages.clear();
  }

  renameUser(user: UserRecord, userName: string): void {
    if (user.userName === userName) return;
    this.userIdByName.delete(user.userName.toLowerCase());
    user.userName = userName;
    this.userIdByName.set(userName.toLowerCase(), user.id);
    // `group.users[].value` shows the userName.
    for (const gid of this.groupsOfUser.get(user.id) ?? []) this.#forgetGroup(gid);
  }

  renameGroup(group: GroupRecord, name: string): void {
    if (group.name === name) return;
    this.groupIdByName.delete(group.name.toLowerCase());
    group.name = name;
    this.groupIdByName.set(name.toLowerCase(), group.id);
    // `user.groups[].value` shows the group name.
    for (const uid of this.usersOfGroup.get(group.id) ?? []) this.#forgetUser(uid);
  }

  setGroupsOfUser(userId: string, groupIds: Iterable<string>): void {
    const current = this.groupsOfUser.get(userId) ?? new Set<string>();
    const next = new Set(groupIds);
    for (const gid of current) if (!next.has(gid)) this.#unlink(userId, gid);
    for (const gid of next) if (!current.has(gid)) this.#link(userId, gid);
    this.#forgetUser(userId);
  }

  setUsersOfGroup(groupId: string, userIds: Iterable<string>): void {
    const current = this.usersOfGroup.get(groupId) ?? new Set<string>();
    const next = new Set(userIds);
    for (const uid of current) if (!next.has(uid)) this.#unlink(uid, groupId);
    for (const uid of next) if (!current.has(uid)) this.#link(uid, groupId);
    this.#forgetGroup(groupId);
  }

  #link(userId: string, groupId: string): void {
    let groups = this.groupsOfUser.get(userId);
    if (groups === undefined) this.groupsOfUser.set(userId, (groups = new Set()));
    groups.add(groupId);
    let users = this.usersOfGroup.get(groupId);
    if (users === undefined) this.usersOfGroup.set(groupId, (users = new Set()));
    users.add(userId);
    this.#forgetUser(userId);
    this.#forgetGroup(groupId);
  }

  #unlink(userId: string, groupId: string): void {
    this.groupsOfUser.get(userId)?.delete(groupId);
    this.usersOfGroup.get(groupId)?.delete(userId);
    this.#forgetUser(userId);
    this.#forgetGroup(groupId);
  }

  deleteUser(userId: string): void {
    const user = this.users.get(userId);
    if (user === undefined) return;
    this.setGroupsOfUser(userId, []);
    this.users.delete(userId);
    this.userIdByName.delete(user.userName.toLowerCase());
    this.groupsOfUser.delete(userId);
    this.#forgetUser(userId);
    sortedRemove(this.userIds, userId);
  }

  deleteGroup(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    this.setUsersOfGroup(groupId, []);
    this.groups.delete(groupId);
    this.groupIdByName.delete(group.name.toLowerCase());
    this.usersOfGroup.delete(groupId);
    this.#forgetGroup(groupId);
    sortedRemove(this.groupIds, groupId);
  }

  #forgetUser(userId: string): void {
    this.#userJson.delete(userId);
    this.#pages.clear();
  }

  #forgetGroup(groupId: string): void {
    this.#groupJson.delete(groupId);
    this.#pages.clear();
  }

  /** The cached encoding of a list response, built on first use after a change. */
  page(key: string, build: () => string): Buffer {
    let body = this.#pages.get(key);
    if (body === undefined) {
      // Bounded: a client walking many page sizes must not grow the cache without end.
      if (this.#pages.size >= MAX_CACHED_PAGES) this.#pages.clear();
      body = Buffer.from(build(), 'utf8');
      this.#pages.set(key, body);
    }
    return body;
  }

  /** Call after changing a user's own fields. */
  touchUser(userId: string): void {
    this.#forgetUser(userId);
  }

  touchGroup(groupId: string): void {
    this.#forgetGroup(groupId);
  }

  userJson(userId: string): string {
    let json = this.#userJson.get(userId);
    if (json !== undefined) return json;
    const u = this.users.get(userId);
    if (u === undefined) throw new Error(`no user ${userId}`);
    json = JSON.stringify({
      id: u.id,
      userName: u.userName,
      email: u.email,
      firstName: u.firstName,
      lastName: u.lastName,
      enabled: u.enabled,
      expiration: u.expiration,
      groups: Array.from(this.groupsOfUser.get(userId) ?? [], (gid) => ({
        id: gid,
        value: this.groups.get(gid)?.name ?? '',
      })),
      // sshPrivateKey is write-only: only its presence is ever returned.
      hasSshPrivateKey: u.sshPrivateKey !== null,
    });
    this.#userJson.set(userId, json);
    return json;
  }

  groupJson(groupId: string): string {
    let json = this.#groupJson.get(groupId);
    if (json !== undefined) return json;
    const g = this.groups.get(groupId);
    if (g === undefined) throw new Error(`no group ${groupId}`);
    json = JSON.stringify({
      id: g.id,
      name: g.name,
      description: g.description,
      users: Array.from(this.usersOfGroup.get(groupId) ?? [], (uid) => ({
        id: uid,
        value: this.users.get(uid)?.userName ?? '',
      })),
    });
    this.#groupJson.set(groupId, json);
    return json;
  }
}

// ---------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------

function normalisePrefix(prefix: string): string[] {
  return prefix
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.toLowerCase());
}

const MAX_INT32 = 2_147_483_647;
const MAX_PAGE_SIZE = 1000;

export function createAxisSimulator(options: AxisSimulatorOptions = {}): AxisSimulator {
  const prefixSegments = normalisePrefix(options.prefix ?? '/api/v1');
  const tokens = new Map<string, AxisTokenScope>(Object.entries(options.tokens ?? AXIS_DEFAULT_TOKENS));
  const readOnlyWriteStatus = options.readOnlyWriteStatus ?? 401;
  const seedUsers = options.seedUsers ?? 120;
  const seedGroups = options.seedGroups ?? 12;

  let dir = Directory.fromSeed(seedUsers, seedGroups);
  let pendingChanges = 0;
  let commits = 0;
  // Axis tokens are static console-made tokens with no refresh endpoint, so
  // "expire" flips every configured token at once until reset().
  let tokensExpired = false;

  /** Undefined when allowed, else the Axis 401/403. */
  function authorize(req: SimRequest, write: boolean): SimResponse | undefined {
    const token = bearerToken(req.headers);
    if (token === undefined)
      return axisError(401, undefined, 'Missing API token. Send Authorization: Bearer {API Token}.');
    const scope = tokens.get(token);
    if (scope === undefined) return axisError(401, undefined, 'Invalid API token.');
    if (tokensExpired) return axisError(401, undefined, 'The API token has expired.');
    if (write && scope === 'ro') return axisError(readOnlyWriteStatus, undefined, AXIS_READ_ONLY_DETAILS);
    return undefined;
  }

  function guarded(
    write: boolean,
    handle: (req: SimRequest, params: readonly string[]) => SimResponse,
  ): Route['handle'] {
    return (req, params) => authorize(req, write) ?? handle(req, params);
  }

  function changed(): void {
    pendingChanges += 1;
  }

  /** `?pageNumber=&pageSize=`; names are case-insensitive (one SDK sends them lowercase). */
  function parsePaging(query: string): { pageNumber: number; pageSize: number } | SimResponse {
    let pageNumber = 1;
    let pageSize = 100;
    if (query === '') return { pageNumber, pageSize };
    for (const [key, value] of new URLSearchParams(query)) {
      const name = key.toLowerCase();
      if (name !== 'pagenumber' && name !== 'pagesize') continue;
      // Sim choice: an empty value means "use the default", like a nullable int binding.
      if (value === '') continue;
      if (!/^\d{1,10}$/.test(value) || Number(value) > MAX_INT32) {
        return axisError(
          400,
          undefined,
          `The value '${value}' is not valid for ${name === 'pagenumber' ? 'pageNumber' : 'pageSize'}.`,
        );
      }
      if (name === 'pagenumber') pageNumber = Number(value);
      else pageSize = Number(value);
    }
    if (pageNumber < 1) return axisError(400, undefined, 'pageNumber must be 1 or greater.');
    if (pageSize < 1 || pageSize > MAX_PAGE_SIZE)
      return axisError(400, undefined, `pageSize must be between 1 and ${MAX_PAGE_SIZE}.`);
    return { pageNumber, pageSize };
  }

  /**
   * The envelope of the common ASP.NET "PagedResponse" pattern the document
   * shows. Sim choice: totalPages is at least 1, so an empty list still has a
   * first/last page URL; nextPage/previousPage are null when there is none
   * (previousPage also null past the last page). Page URLs are absolute,
   * built from the Host header and the request path as sent.
   */
  function listPage(
    req: SimRequest,
    kind: 'users' | 'groups',
    ids: readonly string[],
    jsonOf: (id: string) => string,
  ): SimResponse {
    const paging = parsePaging(req.query);
    if ('status' in paging) return paging;
    const { pageNumber, pageSize } = paging;
    // The page URLs echo the Host header and the path as sent, so both are part of the key.
    const key = `${kind} ${pageNumber} ${pageSize} ${req.headers.host ?? ''} ${req.pathname}`;
    const body = dir.page(key, () => {
      const totalRecords = ids.length;
      const totalPages = Math.max(1, Math.ceil(totalRecords / pageSize));
      const origin = `http://${req.headers.host ?? 'localhost'}`;
      const pageUrl = (n: number): string => `${origin}${req.pathname}?pageNumber=${n}&pageSize=${pageSize}`;
      const head = JSON.stringify({
        pageNumber,
        pageSize,
        firstPage: pageUrl(1),
        lastPage: pageUrl(totalPages),
        totalPages,
        totalRecords,
        nextPage: pageNumber < totalPages ? pageUrl(pageNumber + 1) : null,
        previousPage: pageNumber > 1 && pageNumber <= totalPages ? pageUrl(pageNumber - 1) : null,
      });
      const start = (pageNumber - 1) * pageSize;
      const rows: string[] = [];
      for (let i = start; i < start + pageSize && i < totalRecords; i++) {
        const id = ids[i];
        if (id !== undefined) rows.push(jsonOf(id));
      }
      // Splice pre-serialised rows into the envelope instead of re-serialising them.
      return `${head.slice(0, -1)},"data":[${rows.join(',')}]}`;
    });
    return { status: 200, body };
  }

  function missingRefs(
    refs: readonly { id: string }[] | null | undefined,
    known: ReadonlyMap<string, unknown>,
  ): string[] {
    if (refs === undefined || refs === null) return [];
    return refs.filter((r) => !known.has(r.id)).map((r) => r.id);
  }

  // ---- users ---------------------------------------------------------------

  const listUsers = guarded(false, (req) => listPage(req, 'users', dir.userIds, (id) => dir.userJson(id)));

  const getUser = guarded(false, (_req, [id]) => {
    if (id === undefined || !dir.users.has(id)) return axisError(404, undefined, 'User not found');
    return { status: 200, body: dir.userJson(id) };
  });

  /** Shared create/update validation; `selfId` is the user being replaced. */
  function checkUser(body: UserBody, selfId: string | undefined): SimResponse | undefined {
    const missing = missingRefs(body.groups, dir.groups);
    if (missing.length > 0) return axisError(400, undefined, `Group not found: ${missing.join(', ')}`);
    const owner = dir.userIdByName.get(body.userName.toLowerCase());
    if (owner !== undefined && owner !== selfId)
      return axisError(409, undefined, `A user with userName '${body.userName}' already exists`);
    return undefined;
  }

  const createUser = guarded(true, (req) => {
    const parsed = parseUserBody(req);
    if (!parsed.ok) return parsed.reply;
    const body = parsed.value;
    const problem = checkUser(body, undefined);
    if (problem !== undefined) return problem;
    const id = randomUUID();
    dir.addUser({
      id,
      userName: body.userName,
      email: body.email,
      firstName: body.firstName,
      lastName: body.lastName,
      enabled: body.enabled ?? true,
      expiration: body.expiration,
      sshPrivateKey:
        body.sshPrivateKey === undefined || body.sshPrivateKey === null || body.sshPrivateKey === ''
          ? null
          : body.sshPrivateKey,
    });
    dir.setGroupsOfUser(
      id,
      (body.groups ?? []).map((g) => g.id),
    );
    changed();
    // Create answers 200 with the created object, not 201 (upstream-facts.md).
    return { status: 200, body: dir.userJson(id) };
  });

  const updateUser = guarded(true, (req, [id]) => {
    const parsed = parseUserBody(req);
    if (!parsed.ok) return parsed.reply;
    const user = id === undefined ? undefined : dir.users.get(id);
    if (user === undefined) return axisError(404, undefined, 'User not found');
    const body = parsed.value;
    const problem = checkUser(body, user.id);
    if (problem !== undefined) return problem;
    // PUT is a full replace (there is no PATCH): absent optional fields go back to their defaults...
    dir.renameUser(user, body.userName);
    user.email = body.email;
    user.firstName = body.firstName;
    user.lastName = body.lastName;
    user.enabled = body.enabled ?? true;
    user.expiration = body.expiration;
    // ...except the write-only key: a client cannot send back what it cannot
    // read, so absent/null keeps it, "" clears it, a string replaces it.
    if (body.sshPrivateKey === '') user.sshPrivateKey = null;
    else if (typeof body.sshPrivateKey === 'string') user.sshPrivateKey = body.sshPrivateKey;
    // Sim choice: absent `groups` means no groups, the same as for group.users.
    dir.setGroupsOfUser(
      user.id,
      (body.groups ?? []).map((g) => g.id),
    );
    dir.touchUser(user.id);
    changed();
    return { status: 200, body: dir.userJson(user.id) };
  });

  const deleteUser = guarded(true, (_req, [id]) => {
    if (id === undefined || !dir.users.has(id)) return axisError(404, undefined, 'User not found');
    dir.deleteUser(id);
    changed();
    return NO_CONTENT;
  });

  // ---- groups --------------------------------------------------------------

  const listGroups = guarded(false, (req) => listPage(req, 'groups', dir.groupIds, (id) => dir.groupJson(id)));

  const getGroup = guarded(false, (_req, [id]) => {
    if (id === undefined || !dir.groups.has(id)) return axisError(404, undefined, 'Group not found');
    return { status: 200, body: dir.groupJson(id) };
  });

  function checkGroup(body: GroupBody, selfId: string | undefined): SimResponse | undefined {
    const missing = missingRefs(body.users, dir.users);
    if (missing.length > 0) return axisError(400, undefined, `User not found: ${missing.join(', ')}`);
    const owner = dir.groupIdByName.get(body.name.toLowerCase());
    if (owner !== undefined && owner !== selfId)
      return axisError(409, undefined, `A group named '${body.name}' already exists`);
    return undefined;
  }

  const createGroup = guarded(true, (req) => {
    const parsed = parseGroupBody(req);
    if (!parsed.ok) return parsed.reply;
    const body = parsed.value;
    const problem = checkGroup(body, undefined);
    if (problem !== undefined) return problem;
    const id = randomUUID();
    dir.addGroup({ id, name: body.name, description: body.description ?? null });
    dir.setUsersOfGroup(
      id,
      (body.users ?? []).map((u) => u.id),
    );
    changed();
    return { status: 200, body: dir.groupJson(id) };
  });

  const updateGroup = guarded(true, (req, [id]) => {
    const parsed = parseGroupBody(req);
    if (!parsed.ok) return parsed.reply;
    const group = id === undefined ? undefined : dir.groups.get(id);
    if (group === undefined) return axisError(404, undefined, 'Group not found');
    const body = parsed.value;
    const problem = checkGroup(body, group.id);
    if (problem !== undefined) return problem;
    dir.renameGroup(group, body.name);
    group.description = body.description ?? null;
    // Full replace: a PUT without `users` really drops every member, which is
    // why a client that edits only the name must send the members back.
    dir.setUsersOfGroup(
      group.id,
      (body.users ?? []).map((u) => u.id),
    );
    dir.touchGroup(group.id);
    changed();
    return { status: 200, body: dir.groupJson(group.id) };
  });

  const deleteGroup = guarded(true, (_req, [id]) => {
    if (id === undefined || !dir.groups.has(id)) return axisError(404, undefined, 'Group not found');
    dir.deleteGroup(id);
    changed();
    return NO_CONTENT;
  });

  // ---- commit --------------------------------------------------------------

  // Applies every pending change of the tenant (an inference in upstream-facts.md).
  const commit = guarded(true, () => {
    pendingChanges = 0;
    commits += 1;
    return NO_CONTENT;
  });

  const collection = (list: Route, create: Route): ReadonlyMap<string, Route> =>
    new Map([
      ['GET', list],
      ['POST', create],
    ]);
  const item = (get: Route, update: Route, remove: Route): ReadonlyMap<string, Route> =>
    new Map([
      ['GET', get],
      ['PUT', update],
      ['DELETE', remove],
    ]);

  const table: ReadonlyMap<string, { collection: ReadonlyMap<string, Route>; item?: ReadonlyMap<string, Route> }> =
    new Map([
      [
        'users',
        {
          collection: collection(
            { name: 'users.list', shape: 'envelope', handle: listUsers },
            { name: 'users.create', shape: 'object', handle: createUser },
          ),
          item: item(
            { name: 'users.get', shape: 'object', handle: getUser },
            { name: 'users.update', shape: 'object', handle: updateUser },
            { name: 'users.delete', shape: 'empty', handle: deleteUser },
          ),
        },
      ],
      [
        'groups',
        {
          collection: collection(
            { name: 'groups.list', shape: 'envelope', handle: listGroups },
            { name: 'groups.create', shape: 'object', handle: createGroup },
          ),
          item: item(
            { name: 'groups.get', shape: 'object', handle: getGroup },
            { name: 'groups.update', shape: 'object', handle: updateGroup },
            { name: 'groups.delete', shape: 'empty', handle: deleteGroup },
          ),
        },
      ],
      ['commit', { collection: new Map([['POST', { name: 'commit', shape: 'empty', handle: commit }]]) }],
    ]);

  /**
   * ASP.NET routing: segments are case-insensitive and a trailing slash is
   * ignored, so `/api/v1.0/Users/` matches a `/api/v1.0` prefix.
   */
  function lookup(method: string, pathname: string): RouteLookup {
    const segments = pathname.split('/');
    // Leading "" from the initial slash; a single trailing "" is a trailing slash.
    let end = segments.length;
    if (end > 1 && segments[end - 1] === '') end -= 1;
    let i = 1;
    for (const expected of prefixSegments) {
      if (i >= end || segments[i]?.toLowerCase() !== expected) return { kind: 'notFound' };
      i += 1;
    }
    const resource = i < end ? table.get(segments[i]?.toLowerCase() ?? '') : undefined;
    if (resource === undefined) return { kind: 'notFound' };
    const rest = end - i - 1;
    let byMethod: ReadonlyMap<string, Route> | undefined;
    let params: string[] = [];
    if (rest === 0) {
      byMethod = resource.collection;
    } else if (rest === 1 && resource.item !== undefined) {
      const rawId = segments[i + 1] ?? '';
      if (rawId === '') return { kind: 'notFound' };
      let id: string;
      try {
        id = decodeURIComponent(rawId);
      } catch {
        return { kind: 'notFound' };
      }
      byMethod = resource.item;
      params = [id];
    }
    if (byMethod === undefined) return { kind: 'notFound' };
    const route = byMethod.get(method);
    if (route === undefined) return { kind: 'methodNotAllowed', allow: [...byMethod.keys()] };
    return { kind: 'route', route, params };
  }

  const vendor: SimVendor<AxisSimState> = {
    label: 'axis-sim',
    // ASP.NET Core's JSON output formatter adds the charset.
    contentType: 'application/json; charset=utf-8',
    routeNames: AXIS_ROUTE_NAMES,
    lookup,
    errorReply: axisError,
    state: () => ({
      pendingChanges,
      commits,
      tokensExpired,
      users: dir.userIds.flatMap((id) => {
        const u = dir.users.get(id);
        if (u === undefined) return [];
        return [
          {
            id: u.id,
            userName: u.userName,
            email: u.email,
            firstName: u.firstName,
            lastName: u.lastName,
            enabled: u.enabled,
            expiration: u.expiration,
            hasSshPrivateKey: u.sshPrivateKey !== null,
            sshPrivateKeySha256:
              u.sshPrivateKey === null ? null : createHash('sha256').update(u.sshPrivateKey).digest('hex'),
            groupIds: [...(dir.groupsOfUser.get(id) ?? [])],
          },
        ];
      }),
      groups: dir.groupIds.flatMap((id) => {
        const g = dir.groups.get(id);
        if (g === undefined) return [];
        return [{ id: g.id, name: g.name, description: g.description, userIds: [...(dir.usersOfGroup.get(id) ?? [])] }];
      }),
    }),
    resetData() {
      dir = Directory.fromSeed(seedUsers, seedGroups);
      pendingChanges = 0;
      commits = 0;
      tokensExpired = false;
    },
    expireTokens() {
      tokensExpired = true;
    },
    dispose() {
      // No timers of its own.
    },
  };

  return createSimServer(vendor, { log: options.log, random: options.random, onRequest: options.onRequest });
}
