/**
 * The floor: the cheapest honest server for the benchmark's operations, to measure the
 * gateway against. A hand-written node:http server and one keep-alive undici Pool per
 * upstream (pipelining 1, like the gateway's), no GraphQL, no validation, no logging, no
 * per-request objects beyond what the answer needs. For each scenario it makes exactly the
 * upstream calls the operation needs, in parallel where they are independent, and answers
 * with byte-for-byte the JSON the gateway returns (same fields, same order).
 *
 * It receives the same request as the gateway (`POST /graphql`, `{query, operationName,
 * variables}`) and dispatches on `operationName`: parsing and executing the document is
 * precisely the work a gateway adds over this.
 *
 * It serves the simulators' data and assumes their shapes (no zod); an upstream status
 * outside 2xx becomes a 502, which the benchmark counts as an error.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Pool } from 'undici';

export interface FloorOptions {
  readonly npmBaseUrl: string;
  readonly npmUsername: string;
  readonly npmPassword: string;
  readonly axisBaseUrl: string;
  readonly axisApiToken: string;
  /** Axis path prefix, as the gateway's AXIS_API_PREFIX (default `/api/v1`). */
  readonly axisApiPrefix?: string;
  /** When set, requests need `Authorization: Bearer <apiKey>`, as the gateway's API keys do. */
  readonly apiKey?: string;
  /** Sockets per upstream; the gateway's pools keep 64. */
  readonly connections?: number;
}

export interface Floor {
  readonly server: Server;
  /** Listens and resolves the base URL, e.g. `http://127.0.0.1:54321`. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** NPM logins so far (1 after start; one more per rejected token). */
  readonly logins: number;
}

const NPM_BASE = '/api/npm.azure_config/1.0';
const NPM_TOKEN_PATH = '/api/mgmt.aaa/1.0/token';
const SYNC_STATES = new Set([
  'SYNC_INITIALIZING',
  'SYNC_FAILED',
  'SYNC_SUCCEEDED',
  'SYNC_SUCCEEDED_WITH_WARNING',
  'SYNC_DISABLED',
  'SYNC_NA',
]);
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

// The wire shapes the floor reads: what the simulators send, trusted as is.
interface NpmStatusWire {
  enabled: boolean | string;
  state: string;
  last_sync_ts?: number | null;
}
interface NpmAccountWire {
  acc_id: string;
  tenant_id: string;
}
interface AxisRefWire {
  id: string;
  value?: string;
}
interface AxisUserWire {
  id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled?: boolean | null;
  expiration?: string | null;
  groups?: AxisRefWire[] | null;
}
interface AxisGroupWire {
  id: string;
  name: string;
  description?: string | null;
  users?: AxisRefWire[] | null;
}
interface AxisPageWire<T> {
  totalRecords: number;
  data?: T[] | null;
}
interface UpdateUserVariables {
  id: string;
  input: {
    userName?: string;
    email?: string;
    firstName?: string;
    lastName?: string;
    enabled?: boolean;
    expiration?: string | null;
    groupIds?: string[];
    sshPrivateKey?: string | null;
  };
}

class UpstreamStatusError extends Error {
  constructor(
    readonly upstream: string,
    readonly status: number,
  ) {
    super(`${upstream} answered ${status}`);
  }
}

interface Sent {
  status: number;
  text: string;
}

async function send(
  pool: Pool,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Sent> {
  const res = await pool.request({ method, path, headers, body });
  return { status: res.statusCode, text: await res.body.text() };
}

function pathOf(baseUrl: string): { origin: string; base: string } {
  const url = new URL(baseUrl);
  return { origin: url.origin, base: url.pathname.replace(/\/+$/, '') };
}

/** The gateway's DateTime: epoch seconds to ISO, 0 or absent is "never" (null). */
function isoFromEpoch(seconds: number | null | undefined): string | null {
  return seconds ? new Date(seconds * 1000).toISOString() : null;
}

/** The gateway's reading of NPM's `enabled` (boolean, "true" or "ENABLED"). */
function enabledFlag(value: boolean | string): boolean {
  if (typeof value === 'boolean') return value;
  const upper = value.trim().toUpperCase();
  return upper === 'TRUE' || upper === 'ENABLED';
}

function syncState(value: string): string {
  const upper = value.toUpperCase();
  return SYNC_STATES.has(upper) ? upper : 'SYNC_NA';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function errorBody(message: string): string {
  return JSON.stringify({ errors: [{ message }] });
}

/** Builds the floor and logs in to NPM once; `listen()` binds it. */
export async function createFloor(options: FloorOptions): Promise<Floor> {
  const npm = pathOf(options.npmBaseUrl);
  const axis = pathOf(options.axisBaseUrl);
  const axisPrefix = axis.base + (options.axisApiPrefix ?? '/api/v1').replace(/\/+$/, '');
  const poolOptions = { connections: options.connections ?? 64, pipelining: 1 };
  const npmPool = new Pool(npm.origin, poolOptions);
  const axisPool = new Pool(axis.origin, poolOptions);
  const axisHeaders = { accept: 'application/json', authorization: `Bearer ${options.axisApiToken}` };
  const axisWriteHeaders = { ...axisHeaders, 'content-type': 'application/json' };
  const expectedAuth = options.apiKey === undefined ? undefined : Buffer.from(`Bearer ${options.apiKey}`);
  const loginBody = JSON.stringify({
    user_credentials: { username: options.npmUsername, password: options.npmPassword },
    generate_refresh_token: false,
  });

  let logins = 0;
  let npmHeaders: Record<string, string> = {};
  let loginInFlight: Promise<void> | undefined;

  async function login(): Promise<void> {
    logins += 1;
    const res = await send(
      npmPool,
      'POST',
      npm.base + NPM_TOKEN_PATH,
      { accept: 'application/json', 'content-type': 'application/json' },
      loginBody,
    );
    if (res.status < 200 || res.status >= 300) throw new UpstreamStatusError('npm login', res.status);
    const token = (JSON.parse(res.text) as { access_token: string }).access_token;
    npmHeaders = { accept: 'application/json', authorization: `Bearer ${token}` };
  }

  /** One login at a time, however many requests saw the 401. */
  function relogin(rejected: Record<string, string>): Promise<void> {
    if (npmHeaders !== rejected) return Promise.resolve();
    loginInFlight ??= login().finally(() => {
      loginInFlight = undefined;
    });
    return loginInFlight;
  }

  async function npmGet<T>(path: string): Promise<T> {
    const headers = npmHeaders;
    let res = await send(npmPool, 'GET', npm.base + NPM_BASE + path, headers);
    if (res.status === 401) {
      await relogin(headers);
      res = await send(npmPool, 'GET', npm.base + NPM_BASE + path, npmHeaders);
    }
    if (res.status < 200 || res.status >= 300) throw new UpstreamStatusError('npm', res.status);
    return JSON.parse(res.text) as T;
  }

  async function axisCall<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    const res =
      body === undefined
        ? await send(axisPool, method, axisPrefix + path, axisHeaders)
        : await send(axisPool, method, axisPrefix + path, axisWriteHeaders, JSON.stringify(body));
    if (res.status < 200 || res.status >= 300) throw new UpstreamStatusError('axis', res.status);
    return (res.text === '' ? undefined : JSON.parse(res.text)) as T;
  }

  async function q1(): Promise<string> {
    const [status, accounts, page] = await Promise.all([
      npmGet<NpmStatusWire>('/status'),
      npmGet<NpmAccountWire[]>('/auth_codes'),
      axisCall<AxisPageWire<AxisUserWire>>('GET', '/users?pageSize=50&pageNumber=1'),
    ]);
    return JSON.stringify({
      data: {
        azureStatus: {
          enabled: enabledFlag(status.enabled),
          state: syncState(status.state),
          lastSyncAt: isoFromEpoch(status.last_sync_ts),
        },
        azureAccounts: accounts.map((a) => ({ accId: a.acc_id, tenantId: a.tenant_id })),
        users: {
          totalRecords: page.totalRecords,
          nodes: (page.data ?? []).map((u) => ({
            id: u.id,
            userName: u.userName,
            email: u.email,
            groups: (u.groups ?? []).map((g) => ({ id: g.id, name: g.value })),
          })),
        },
      },
    });
  }

  async function q2(): Promise<string> {
    const status = await npmGet<NpmStatusWire>('/status');
    return JSON.stringify({ data: { azureStatus: { state: syncState(status.state) } } });
  }

  async function q3(): Promise<string> {
    const page = await axisCall<AxisPageWire<AxisUserWire>>('GET', '/users?pageSize=30&pageNumber=1');
    const [groups, users] = await Promise.all([
      axisCall<AxisPageWire<AxisGroupWire>>('GET', '/groups?pageSize=1000&pageNumber=1'),
      axisCall<AxisPageWire<AxisUserWire>>('GET', '/users?pageSize=1000&pageNumber=1'),
    ]);
    const groupById = new Map((groups.data ?? []).map((g) => [g.id, g]));
    const userById = new Map((users.data ?? []).map((u) => [u.id, u]));
    return JSON.stringify({
      data: {
        users: {
          nodes: (page.data ?? []).map((u) => ({
            id: u.id,
            groups: (u.groups ?? []).map((ref) => {
              const group = groupById.get(ref.id);
              if (group === undefined) throw new Error(`group ${ref.id} is not in the list`);
              return {
                id: ref.id,
                name: ref.value,
                description: group.description ?? null,
                users: (group.users ?? []).map((m) => {
                  const member = userById.get(m.id);
                  if (member === undefined) throw new Error(`user ${m.id} is not in the list`);
                  return { id: m.id, userName: m.value, email: member.email };
                }),
              };
            }),
          })),
        },
      },
    });
  }

  async function m1(variables: UpdateUserVariables): Promise<string> {
    const { id, input } = variables;
    const path = `/users/${encodeURIComponent(id)}`;
    // The gateway reads twice: once to learn which entities to lock (the user and its groups),
    // once inside the locks for the fresh copy it merges. Writes of one entity serialised are
    // part of a correct answer, so the floor pays the same two reads (one process needs no lock).
    await axisCall<AxisUserWire>('GET', path);
    const current = await axisCall<AxisUserWire>('GET', path);
    // Axis PUT replaces the whole user: the same merge the gateway does.
    const updated = await axisCall<AxisUserWire>('PUT', path, {
      userName: input.userName ?? current.userName,
      email: input.email ?? current.email,
      firstName: input.firstName ?? current.firstName,
      lastName: input.lastName ?? current.lastName,
      enabled: input.enabled ?? current.enabled ?? true,
      expiration: (input.expiration === undefined ? current.expiration : input.expiration) ?? '',
      groups: input.groupIds?.map((g) => ({ id: g })) ?? (current.groups ?? []).map((g) => ({ id: g.id })),
      ...(input.sshPrivateKey === undefined ? {} : { sshPrivateKey: input.sshPrivateKey ?? '' }),
    });
    await axisCall<undefined>('POST', '/commit');
    return JSON.stringify({
      data: { updateUser: { id: updated.id, firstName: updated.firstName, lastName: updated.lastName } },
    });
  }

  async function graphql(text: string): Promise<string | undefined> {
    const body = JSON.parse(text) as { operationName?: string; variables?: unknown };
    switch (body.operationName) {
      case 'Q1':
        return q1();
      case 'Q2':
        return q2();
      case 'Q3':
        return q3();
      case 'M1':
        return m1(body.variables as UpdateUserVariables);
      default:
        return undefined;
    }
  }

  function authorized(req: IncomingMessage): boolean {
    if (expectedAuth === undefined) return true;
    const given = req.headers.authorization;
    if (given === undefined || given.length !== expectedAuth.length) return false;
    return timingSafeEqual(Buffer.from(given), expectedAuth);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/health') {
      req.resume();
      reply(res, 200, '{"status":"ok"}');
      return;
    }
    if (req.url !== '/graphql' || req.method !== 'POST') {
      req.resume();
      reply(res, 404, errorBody('not found'));
      return;
    }
    const text = await readBody(req);
    if (!authorized(req)) {
      reply(res, 401, errorBody('missing or unknown API key'));
      return;
    }
    let answer: string | undefined;
    try {
      answer = await graphql(text);
    } catch (err) {
      const status = err instanceof UpstreamStatusError ? 502 : 500;
      reply(res, status, errorBody(err instanceof Error ? err.message : 'failed'));
      return;
    }
    if (answer === undefined) reply(res, 400, errorBody('unknown operationName'));
    else reply(res, 200, answer);
  }

  await login();

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, errorBody('failed'));
      else res.destroy();
    });
  });

  return {
    server,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(`http://${host}:${(server.address() as AddressInfo).port}`);
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([npmPool.close(), axisPool.close()]);
    },
    get logins() {
      return logins;
    },
  };
}
