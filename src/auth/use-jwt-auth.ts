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
 * JWT verification (@graphql-yoga/plugin-jwt) for the configured keys, ahead of useClientAuth,
 * which reads the verified payload. Undefined when no JWT key is configured or auth is off.
 */
export function useJwtAuth(auth: AuthConfig): Plugin | undefined {
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
