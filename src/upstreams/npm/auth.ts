import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { NpmAuthConfig } from '../../config.js';
import type { UpstreamHttp } from '../http.js';
import { tokenWire } from './types.js';

/**
 * Bearer tokens for the NPM appliance. A static token is used as is. Username and password
 * are exchanged at `POST /api/mgmt.aaa/1.0/token` (Riverbed's documented login) for an
 * access token that lives about 15 minutes; it is cached until shortly before
 * `expires_at`, and only one login runs at a time however many requests need a token.
 */
export interface NpmTokenSource {
  token(): Promise<string>;
  /** Drops `rejected` so the next `token()` logs in again. False when a new token cannot help. */
  invalidate(rejected: string): boolean;
}

/** Renew this long before the appliance's `expires_at`, so a token never expires mid-request. */
const EXPIRY_MARGIN_MS = 60_000;
/** When the appliance sends no `expires_at`: Riverbed access tokens live about 15 minutes. */
const DEFAULT_LIFETIME_MS = 10 * 60_000;

/** Where a fleet keeps its one NPM token (REDIS_URL set). */
export interface SharedTokenStore {
  client: Redis;
  keyPrefix: string;
}

export function createNpmTokenSource(
  auth: NpmAuthConfig,
  http: UpstreamHttp,
  logger: Logger,
  now: () => number = Date.now,
  /** Counts logins for metrics. */
  onLogin?: (outcome: 'success' | 'failure') => void,
  /** Several replicas: one token (and one login per lifetime) for the whole fleet. */
  shared?: SharedTokenStore,
): NpmTokenSource {
  if (auth.kind === 'token') {
    return {
      token: () => Promise.resolve(auth.accessToken),
      invalidate: () => false,
    };
  }

  let cached: { token: string; renewAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function login(): Promise<{ token: string; renewAt: number }> {
    const started = now();
    const res = await http.request({
      route: 'token.post',
      method: 'POST',
      path: '/api/mgmt.aaa/1.0/token',
      body: {
        user_credentials: {
          username: auth.kind === 'password' ? auth.username : '',
          password: auth.kind === 'password' ? auth.password : '',
        },
        generate_refresh_token: false,
      },
      schema: tokenWire,
    });
    const expiresAtMs = res.expires_at !== undefined ? res.expires_at * 1000 : started + DEFAULT_LIFETIME_MS;
    // Renew a minute before expiry, or a tenth of the lifetime for very short-lived tokens.
    const lifetime = Math.max(0, expiresAtMs - started);
    const renewAt = expiresAtMs - Math.min(EXPIRY_MARGIN_MS, lifetime / 10);
    logger.info({ upstream: 'npm', expiresAt: new Date(expiresAtMs).toISOString() }, 'logged in to the NPM appliance');
    return { token: res.access_token, renewAt };
  }

  async function counted(): Promise<{ token: string; renewAt: number }> {
    try {
      const fresh = await login();
      onLogin?.('success');
      return fresh;
    } catch (err) {
      onLogin?.('failure');
      throw err;
    }
  }

  if (shared !== undefined) {
    return createSharedTokenSource(shared, counted, logger, now);
  }

  return {
    token() {
      if (cached && now() < cached.renewAt) return Promise.resolve(cached.token);
      inFlight ??= counted()
        .then((fresh) => {
          cached = fresh;
          return fresh.token;
        })
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
    invalidate(rejected) {
      if (cached?.token === rejected) cached = undefined;
      return true;
    },
  };
}

/** How long one replica may hold the login lock (a login is one upstream POST, retries excluded). */
const LOGIN_LOCK_MS = 15_000;
const WAIT_POLL_MS = 50;

/** Deletes the key only while it still holds this value (a lock's owner id). */
const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
/** Deletes the stored token only while it is the one refused (compare-and-set: never a newer one). */
const DELETE_IF_TOKEN = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '\n' then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * One NPM token for the fleet. Appliances cap their sessions, so N replicas must not hold
 * N tokens. The token lives in Redis as `<token>\n<renewAt>` with a PX that ends at its
 * renewal time; each replica caches it locally until then (no Redis read per NPM call).
 *
 * A replica that needs one reads it; when there is none, it takes a login lock (SET NX PX),
 * looks once more, logs in and stores the new token; the others poll until it appears.
 * A token the appliance refuses as expired is deleted only while it is still the stored
 * one, so a refusal seen by every replica at once causes one new login, not N.
 * While Redis cannot be reached, each replica logs in for itself (reads go on).
 * The token is a secret: it is never logged.
 */
function createSharedTokenSource(
  shared: SharedTokenStore,
  login: () => Promise<{ token: string; renewAt: number }>,
  logger: Logger,
  now: () => number,
): NpmTokenSource {
  const tokenKey = `${shared.keyPrefix}npm:token`;
  const lockKey = `${shared.keyPrefix}npm:login-lock`;
  const { client } = shared;
  let cached: { token: string; renewAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  /** Tokens refused here lately: never taken from Redis again, even before their delete lands. */
  const refused: string[] = [];

  function usable(entry: { token: string; renewAt: number } | undefined): entry is { token: string; renewAt: number } {
    return entry !== undefined && now() < entry.renewAt && !refused.includes(entry.token);
  }

  async function read(): Promise<{ token: string; renewAt: number } | undefined> {
    const value = await client.get(tokenKey);
    if (value === null) return undefined;
    const at = value.lastIndexOf('\n');
    return { token: value.slice(0, at), renewAt: Number(value.slice(at + 1)) };
  }

  async function alone(reason: string): Promise<string> {
    logger.warn({ upstream: 'npm', reason }, 'redis unavailable: logging in to NPM for this replica only');
    cached = await login();
    return cached.token;
  }

  async function fetchShared(): Promise<string> {
    const giveUpAt = now() + LOGIN_LOCK_MS * 2;
    const owner = randomUUID();
    for (;;) {
      let locked: string | null;
      try {
        const stored = await read();
        if (usable(stored)) return (cached = stored).token;
        locked = await client.set(lockKey, owner, 'PX', LOGIN_LOCK_MS, 'NX');
      } catch {
        return alone('redis error');
      }
      if (locked === 'OK') {
        try {
          const stored = await read().catch(() => undefined);
          if (usable(stored)) return (cached = stored).token;
          const fresh = await login();
          cached = fresh;
          await client
            .set(tokenKey, `${fresh.token}\n${fresh.renewAt}`, 'PX', Math.max(1, Math.floor(fresh.renewAt - now())))
            .catch(() => logger.warn({ upstream: 'npm' }, 'could not share the new NPM token in redis'));
          return fresh.token;
        } finally {
          await client.eval(DELETE_IF_EQUAL, 1, lockKey, owner).catch(() => undefined);
        }
      }
      if (now() > giveUpAt) return alone('login lock held too long');
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }

  return {
    token() {
      if (usable(cached)) return Promise.resolve(cached.token);
      inFlight ??= fetchShared().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate(rejected) {
      if (!refused.includes(rejected)) refused.push(rejected);
      if (refused.length > 16) refused.shift();
      if (cached?.token === rejected) cached = undefined;
      void client.eval(DELETE_IF_TOKEN, 1, tokenKey, rejected).catch(() => undefined);
      return true;
    },
  };
}
