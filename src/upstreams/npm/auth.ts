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

export function createNpmTokenSource(
  auth: NpmAuthConfig,
  http: UpstreamHttp,
  logger: Logger,
  now: () => number = Date.now,
  /** Counts logins for metrics. */
  onLogin?: (outcome: 'success' | 'failure') => void,
): NpmTokenSource {
  if (auth.kind === 'token') {
    return {
      token: () => Promise.resolve(auth.accessToken),
      invalidate: () => false,
    };
  }

  let cached: { token: string; renewAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function login(): Promise<string> {
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
    cached = { token: res.access_token, renewAt };
    logger.info({ upstream: 'npm', expiresAt: new Date(expiresAtMs).toISOString() }, 'logged in to the NPM appliance');
    return res.access_token;
  }

  return {
    token() {
      if (cached && now() < cached.renewAt) return Promise.resolve(cached.token);
      inFlight ??= login()
        .then(
          (token) => {
            onLogin?.('success');
            return token;
          },
          (err: unknown) => {
            onLogin?.('failure');
            throw err;
          },
        )
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
