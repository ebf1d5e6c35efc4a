import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
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
    return createSharedTokenSource(shared, tokenSealKey(auth), counted, logger, now);
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

/**
 * The key that seals the fleet's NPM token in Redis: HKDF-SHA256 of the NPM password, which
 * every replica already has. A Redis reader without the password gets no live appliance
 * token; one who has the password could log in anyway, so the seal is as strong as the
 * password and weakens nothing.
 */
export function tokenSealKey(auth: { username: string; password: string }): Buffer {
  return Buffer.from(
    hkdfSync('sha256', auth.password, `npm-axis-gateway:${auth.username}`, 'npm token in redis v1', 32),
  );
}

const SEAL_VERSION = 'v1';

/**
 * `v1.<iv>.<ciphertext>.<tag>` (base64url): AES-256-GCM of `<token>\n<renewAt>`, a fresh
 * 96-bit IV each time, the Redis key as additional data (a sealed value copied under another
 * key does not open).
 */
export function sealToken(key: Buffer, where: string, entry: { token: string; renewAt: number }): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(where));
  const sealed = Buffer.concat([cipher.update(`${entry.token}\n${entry.renewAt}`, 'utf8'), cipher.final()]);
  return [SEAL_VERSION, iv, sealed, cipher.getAuthTag()]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** The entry a sealed value holds; undefined when it does not open (another password, tampered, not ours). */
export function openToken(key: Buffer, where: string, value: string): { token: string; renewAt: number } | undefined {
  const [version, iv, sealed, tag, extra] = value.split('.');
  if (version !== SEAL_VERSION || iv === undefined || sealed === undefined || tag === undefined || extra !== undefined)
    return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(where));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    const at = plain.lastIndexOf('\n');
    const renewAt = Number(plain.slice(at + 1));
    if (at <= 0 || !Number.isFinite(renewAt)) return undefined;
    return { token: plain.slice(0, at), renewAt };
  } catch {
    return undefined;
  }
}

/** How long one replica may hold the login lock (a login is one upstream POST, retries excluded). */
const LOGIN_LOCK_MS = 15_000;
const WAIT_POLL_MS = 50;

/** Deletes the key only while it still holds this value (a lock's owner id). */
const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * One NPM token for the fleet. Appliances cap their sessions, so N replicas must not hold
 * N tokens. The token lives in Redis as `<token>\n<renewAt>` with a PX that ends at its
 * renewal time, sealed (sealToken: AES-256-GCM with a key derived from the NPM password, so
 * a Redis reader gets no live appliance token); each replica caches it locally until then (no
 * Redis read per NPM call).
 *
 * A replica that needs one reads it; when there is none, it takes a login lock (SET NX PX),
 * looks once more, logs in and stores the new token; the others poll until it appears.
 * A token the appliance refuses as expired is deleted only while it is still the stored
 * one (the sealed value this replica read or wrote, compared in Redis), so a refusal seen by
 * every replica at once causes one new login, not N. A stored value that does not open (a
 * replica with another password, mid-rotation) counts as no token.
 * While Redis cannot be reached, each replica logs in for itself (reads go on).
 * The token is a secret: it is never logged.
 */
function createSharedTokenSource(
  shared: SharedTokenStore,
  sealKey: Buffer,
  login: () => Promise<{ token: string; renewAt: number }>,
  logger: Logger,
  now: () => number,
): NpmTokenSource {
  const tokenKey = `${shared.keyPrefix}npm:token`;
  const lockKey = `${shared.keyPrefix}npm:login-lock`;
  const { client } = shared;
  let cached: { token: string; renewAt: number; sealed?: string } | undefined;
  let inFlight: Promise<string> | undefined;
  /** Tokens refused here lately: never taken from Redis again, even before their delete lands. */
  const refused: string[] = [];

  function usable(entry: { token: string; renewAt: number } | undefined): entry is { token: string; renewAt: number } {
    return entry !== undefined && now() < entry.renewAt && !refused.includes(entry.token);
  }

  async function read(): Promise<{ token: string; renewAt: number; sealed: string } | undefined> {
    const value = await client.get(tokenKey);
    if (value === null) return undefined;
    const entry = openToken(sealKey, tokenKey, value);
    if (entry === undefined) {
      logger.warn({ upstream: 'npm' }, "the NPM token in redis does not open with this replica's NPM credentials");
      return undefined;
    }
    return { ...entry, sealed: value };
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
          const sealed = sealToken(sealKey, tokenKey, fresh);
          cached = { ...fresh, sealed };
          await client
            .set(tokenKey, sealed, 'PX', Math.max(1, Math.floor(fresh.renewAt - now())))
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
      if (cached?.token === rejected) {
        // Only a token that went through Redis is deleted there (one logged in alone never was).
        if (cached.sealed !== undefined)
          void client.eval(DELETE_IF_EQUAL, 1, tokenKey, cached.sealed).catch(() => undefined);
        cached = undefined;
      }
      return true;
    },
  };
}
