import { createInlineSigningKeyProvider, createRemoteJwksSigningKeyProvider, useJWT } from '@graphql-yoga/plugin-jwt';
import type { GetSigningKeyFunction } from '@graphql-yoga/plugin-jwt';
import type { Plugin } from 'graphql-yoga';
import type { AuthConfig } from '../config.js';
import { jwtBearerOf } from './use-client-auth.js';

/** A JWT's header, or undefined when it is not readable JSON. */
function jwtHeader(token: string): { alg?: unknown; kid?: unknown } | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return header !== null && typeof header === 'object' ? (header as { alg?: unknown; kid?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why a verified token's lifetime is not acceptable, or undefined when it is. A token without
 * `exp` would never expire, so it is refused; with AUTH_JWT_MAX_AGE_S a token issued longer
 * ago than that (from `iat`), or without `iat`, is refused too, whatever its `exp` says.
 */
function jwtLifetimeProblem(
  payload: Record<string, unknown>,
  maxAgeS: number | undefined,
  nowS = Date.now() / 1000,
): string | undefined {
  if (typeof payload['exp'] !== 'number') return 'no exp';
  if (maxAgeS === undefined) return undefined;
  const iat = payload['iat'];
  if (typeof iat !== 'number') return 'no iat';
  if (nowS - iat > maxAgeS) return 'older than AUTH_JWT_MAX_AGE_S';
  return undefined;
}

/**
 * JWT verification (@graphql-yoga/plugin-jwt) for the configured keys, ahead of useClientAuth,
 * which reads the verified payload. A verified token whose lifetime is not acceptable
 * (jwtLifetimeProblem) is dropped from the context before useClientAuth looks, so it is
 * refused like any invalid credential (UNAUTHENTICATED). Undefined when no JWT key is
 * configured or auth is off.
 */
export function useJwtAuth(auth: AuthConfig): Plugin | undefined {
  const verify = useJwtVerification(auth);
  const jwt = auth.jwt;
  if (verify === undefined || jwt === undefined) return undefined;
  const lifetime: Plugin = {
    // Between the JWT plugin's onRequestParse (which verifies) and useClientAuth's (which reads).
    onRequestParse({ serverContext }) {
      const ctx = serverContext as Record<string, unknown>;
      const verified = ctx['jwt'] as { payload?: unknown } | undefined;
      const payload = verified?.payload;
      if (payload === undefined) return;
      if (typeof payload !== 'object' || payload === null) ctx['jwt'] = undefined;
      else if (jwtLifetimeProblem(payload as Record<string, unknown>, jwt.maxAgeS) !== undefined)
        ctx['jwt'] = undefined;
    },
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(verify);
      addPlugin(lifetime);
    },
  };
}

function useJwtVerification(auth: AuthConfig): Plugin | undefined {
  const jwt = auth.jwt;
  if (auth.disabled || jwt === undefined) return undefined;
  // A token with a `kid` is checked against the JWKS, one without against the shared secret
  // (jwks-rsa would otherwise hand out its only key for any token). Only the algorithms of
  // configured keys are accepted, and jsonwebtoken refuses a public key as an HMAC secret.
  const providers: GetSigningKeyFunction[] = [];
  const algorithms: Array<'RS256' | 'ES256' | 'HS256'> = [];
  if (jwt.jwksUrl !== undefined) {
    const jwks = createRemoteJwksSigningKeyProvider({
      jwksUri: jwt.jwksUrl,
      cache: true,
      rateLimit: true,
      timeout: 5_000,
    });
    providers.push((kid) => (kid === undefined ? '' : jwks(kid)));
    algorithms.push('RS256', 'ES256');
  }
  if (jwt.secret !== undefined) {
    providers.push(createInlineSigningKeyProvider(jwt.secret));
    algorithms.push('HS256');
  }
  return useJWT({
    signingKeyProviders: providers as [GetSigningKeyFunction, ...GetSigningKeyFunction[]],
    // Only tokens some configured key could verify reach the plugin (it answers 500 when no
    // provider has a key); every other bearer is left to useClientAuth, which refuses it as
    // UNAUTHENTICATED.
    tokenLookupLocations: [
      ({ request }) => {
        const token = jwtBearerOf(request);
        const header = token === undefined ? undefined : jwtHeader(token);
        if (token === undefined || header === undefined || !algorithms.includes(header.alg as 'HS256'))
          return undefined;
        if (header.alg !== 'HS256' && header.kid === undefined) return undefined;
        return { token, prefix: 'Bearer' };
      },
    ],
    tokenVerification: {
      algorithms,
      ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
      ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
    },
    // Our useClientAuth decides: an invalid token may still be a valid API key... and the
    // refusal must carry our UNAUTHENTICATED code.
    reject: { missingToken: false, invalidToken: false },
  }) as Plugin;
}
