/**
 * The benchmark servers' way to the upstreams: one keep-alive undici Pool per upstream
 * (pipelining 1, 64 sockets, like the gateway's), the NPM login, and the wire shapes the
 * simulators send, trusted as they are (no zod). The floor (floor.ts) and both reference
 * servers (reference-yoga.ts, reference-mercurius.ts) call the upstreams through this one
 * module, so the only difference between them is what sits in front of it.
 *
 * An upstream status outside 2xx throws `UpstreamStatusError`; the floor answers it with a
 * 502 and the reference servers with a GraphQL error, which the benchmark counts as errors.
 */
import { Pool } from 'undici';

export interface BenchUpstreamOptions {
  readonly npmBaseUrl: string;
  readonly npmUsername: string;
  readonly npmPassword: string;
  readonly axisBaseUrl: string;
  readonly axisApiToken: string;
  /** Axis path prefix, as the gateway's AXIS_API_PREFIX (default `/api/v1`). */
  readonly axisApiPrefix?: string;
  /** Sockets per upstream; the gateway's pools keep 64. */
  readonly connections?: number;
}

export interface BenchUpstreams {
  /** GET under NPM's Azure integration base (`/status`, `/auth_codes`); logs in again once on a 401. */
  npmGet<T>(path: string): Promise<T>;
  /** A call under the Axis API prefix; `body` is sent as JSON. An empty answer is `undefined`. */
  axisCall<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T>;
  /** Logs in to NPM; createBenchUpstreams does once. */
  login(): Promise<void>;
  /** NPM logins so far (1 after start; one more per rejected token). */
  readonly logins: number;
  close(): Promise<void>;
}

// The wire shapes the benchmark servers read: what the simulators send.
export interface NpmStatusWire {
  enabled: boolean | string;
  state: string;
  error_id?: number | null;
  error_text?: string | null;
  last_sync_ts?: number | null;
  last_success_ts?: number | null;
}
export interface NpmAccountWire {
  acc_id: string;
  tenant_id: string;
  subscription_id: string;
  app_id: string;
}
export interface AxisRefWire {
  id: string;
  value?: string;
}
export interface AxisUserWire {
  id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  enabled?: boolean | null;
  expiration?: string | null;
  groups?: AxisRefWire[] | null;
  hasSshPrivateKey?: boolean | null;
}
export interface AxisGroupWire {
  id: string;
  name: string;
  description?: string | null;
  users?: AxisRefWire[] | null;
}
export interface AxisPageWire<T> {
  pageNumber: number;
  pageSize: number;
  totalPages: number;
  totalRecords: number;
  data?: T[] | null;
}
export interface UpdateUserVariables {
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

export class UpstreamStatusError extends Error {
  constructor(
    readonly upstream: string,
    readonly status: number,
  ) {
    super(`${upstream} answered ${status}`);
  }
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

/** The gateway's reading of NPM's `enabled` (boolean, "true" or "ENABLED"). */
export function enabledFlag(value: boolean | string): boolean {
  if (typeof value === 'boolean') return value;
  const upper = value.trim().toUpperCase();
  return upper === 'TRUE' || upper === 'ENABLED';
}

/** The gateway's reading of NPM's sync state: one of the enum's values, SYNC_NA otherwise. */
export function syncState(value: string): string {
  const upper = value.toUpperCase();
  return SYNC_STATES.has(upper) ? upper : 'SYNC_NA';
}

/**
 * Axis PUT replaces the whole user: the merge the gateway does for a partial updateUser
 * (fields left out keep their value, `expiration: null` clears it, groups are kept unless given).
 */
export function mergedUser(current: AxisUserWire, input: UpdateUserVariables['input']): Record<string, unknown> {
  return {
    userName: input.userName ?? current.userName,
    email: input.email ?? current.email,
    firstName: input.firstName ?? current.firstName,
    lastName: input.lastName ?? current.lastName,
    enabled: input.enabled ?? current.enabled ?? true,
    expiration: (input.expiration === undefined ? current.expiration : input.expiration) ?? '',
    groups: input.groupIds?.map((g) => ({ id: g })) ?? (current.groups ?? []).map((g) => ({ id: g.id })),
    ...(input.sshPrivateKey === undefined ? {} : { sshPrivateKey: input.sshPrivateKey ?? '' }),
  };
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

/** Opens the pools and logs in to NPM once. */
export async function createBenchUpstreams(options: BenchUpstreamOptions): Promise<BenchUpstreams> {
  const npm = pathOf(options.npmBaseUrl);
  const axis = pathOf(options.axisBaseUrl);
  const axisPrefix = axis.base + (options.axisApiPrefix ?? '/api/v1').replace(/\/+$/, '');
  const poolOptions = { connections: options.connections ?? 64, pipelining: 1 };
  const npmPool = new Pool(npm.origin, poolOptions);
  const axisPool = new Pool(axis.origin, poolOptions);
  const axisHeaders = { accept: 'application/json', authorization: `Bearer ${options.axisApiToken}` };
  const axisWriteHeaders = { ...axisHeaders, 'content-type': 'application/json' };
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

  await login();

  return {
    npmGet,
    axisCall,
    login,
    get logins() {
      return logins;
    },
    async close() {
      await Promise.all([npmPool.close(), axisPool.close()]);
    },
  };
}
