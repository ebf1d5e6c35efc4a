import { getOperationAST } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { JWTExtendContextFields } from '@graphql-yoga/plugin-jwt';
import type { AuthConfig, Role } from '../config.js';
import type { ErrorCode } from '../errors.js';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { ClientAddressOf } from '../http/client-address.js';
import type { RefusalLog } from '../http/refusal-log.js';
import type { RateLimitStore } from '../stores/rate-limit.js';
import { ApiKeyRegistry } from './api-keys.js';
import { ANONYMOUS_ADMIN } from './principal.js';
import type { Principal } from './principal.js';

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The bearer credential of a request, or undefined. */
function bearerOf(request: Request): string | undefined {
  const header = request.headers.get('authorization');
  return header === null ? undefined : BEARER.exec(header)?.[1];
}

/** Only JWT-shaped bearers are handed to the JWT plugin, so API keys are never "verified" as tokens. */
export function jwtBearerOf(request: Request): string | undefined {
  const token = bearerOf(request);
  return token !== undefined && JWT_SHAPE.test(token) ? token : undefined;
}

function unauthenticated(message: string) {
  return createGraphQLError(message, {
    extensions: {
      code: 'UNAUTHENTICATED' satisfies ErrorCode,
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
    },
  });
}

function forbidden(message: string) {
  return createGraphQLError(message, { extensions: { code: 'FORBIDDEN' satisfies ErrorCode, http: { status: 403 } } });
}

/** Reads a claim by name, or by dotted path (`realm_access.roles`), as a list of role names. */
function rolesClaim(payload: Record<string, unknown>, claim: string): ReadonlySet<Role> {
  let value: unknown = payload[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((v, part) => (v as Record<string, unknown> | undefined)?.[part], payload);
  }
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  const roles = new Set<Role>();
  for (const r of list) {
    if (r === 'admin') roles.add('admin').add('viewer');
    else if (r === 'viewer') roles.add('viewer');
  }
  return roles;
}

export interface ClientAuthOptions {
  auth: AuthConfig;
  principals: WeakMap<Request, Principal>;
  rateLimit: RateLimitStore | undefined;
  /** The exact path GraphQL is served on; other paths (/health, /ready, /metrics) need no credential here. */
  graphqlEndpoint: string;
  clientAddressOf: ClientAddressOf;
  refusals: RefusalLog;
  /** Failed authentications per client address per minute before 429 (AUTH_FAILURE_LIMIT); 0 = no limit. */
  authFailureLimit: number;
}

/**
 * Client authentication, authorisation and the per-caller rate limit.
 *
 * - `onRequestParse`, on the GraphQL endpoint only (the GraphiQL page, /health, /ready,
 *   /metrics and CORS preflights are answered earlier, in onRequest, and need no
 *   credential): the bearer is an API key, or a JWT that @graphql-yoga/plugin-jwt (whose
 *   onRequestParse runs just before) has verified; otherwise UNAUTHENTICATED (401). This is
 *   the last hook before Yoga reads the body, so a caller without a valid credential never
 *   has its body read; and it runs before the CSRF check (placed after it), so such a caller
 *   hears about the credential first. Then the caller's rate limit: RATE_LIMITED (429).
 * - Each failed authentication counts against the client's address: past AUTH_FAILURE_LIMIT
 *   a minute, failures answer AUTH_RATE_LIMITED (429, Retry-After) instead of 401. A valid
 *   credential from that address is still served (keys and signatures cannot be guessed;
 *   the limit is there to bound the flood and its logging).
 * - `onExecute`/`onSubscribe`: queries need `viewer`, mutations `admin`; otherwise FORBIDDEN
 *   before any resolver (so no upstream call) runs.
 */
export function useClientAuth({
  auth,
  principals,
  rateLimit,
  graphqlEndpoint,
  clientAddressOf,
  refusals,
  authFailureLimit,
}: ClientAuthOptions): Plugin {
  const apiKeys = new ApiKeyRegistry(auth.apiKeys);
  const failures =
    authFailureLimit > 0
      ? new RateLimiterMemory({ keyPrefix: 'auth-failures', points: authFailureLimit, duration: 60 })
      : undefined;

  /** The error for a failed authentication from `client`: 401, or 429 once the address is over its limit. */
  async function failed(client: string, reason: string, message: string) {
    if (failures !== undefined) {
      try {
        await failures.consume(client);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        refusals.refused('auth_failures_limited', client, { limit: authFailureLimit, retryAfterSeconds: seconds });
        return createGraphQLError(
          `Too many failed authentications from this address (AUTH_FAILURE_LIMIT ${authFailureLimit} a minute); retry in ${seconds} s.`,
          {
            extensions: {
              code: 'AUTH_RATE_LIMITED' satisfies ErrorCode,
              retryAfterSeconds: seconds,
              http: { status: 429, headers: { 'Retry-After': String(seconds) } },
            },
          },
        );
      }
    }
    refusals.refused(reason, client);
    return unauthenticated(message);
  }

  /** The API-key principal, 'jwt' when the JWT plugin must decide, or the reason for a refusal. */
  function byApiKey(request: Request): Principal | 'jwt' | { reason: string; message: string } {
    if (auth.disabled) return ANONYMOUS_ADMIN;
    const token = bearerOf(request);
    if (token === undefined)
      return {
        reason: 'no_credential',
        message: 'Authentication required: send "Authorization: Bearer <API key or JWT>".',
      };
    const byKey = apiKeys.match(token);
    if (byKey !== undefined) return byKey;
    if (auth.jwt !== undefined && JWT_SHAPE.test(token)) return 'jwt';
    return { reason: 'invalid_credential', message: 'Invalid or expired credential.' };
  }

  function byJwt(
    request: Request,
    serverContext: Record<string, unknown>,
  ): Principal | { reason: string; message: string } {
    const token = bearerOf(request);
    const jwt = serverContext['jwt'] as JWTExtendContextFields | undefined;
    if (auth.jwt !== undefined && jwt !== undefined && jwt.token.value === token) {
      const payload = jwt.payload as Record<string, unknown>;
      const subject = typeof payload['sub'] === 'string' && payload['sub'] !== '' ? payload['sub'] : undefined;
      if (subject === undefined)
        return { reason: 'invalid_credential', message: 'The token has no subject (sub) claim.' };
      return { kind: 'jwt', id: subject, roles: rolesClaim(payload, auth.jwt.rolesClaim) };
    }
    return { reason: 'invalid_credential', message: 'Invalid or expired credential.' };
  }

  function authorize(principal: Principal | undefined, operation: string | undefined): Error | undefined {
    if (principal === undefined) return unauthenticated('Authentication required.');
    const needed: Role = operation === 'mutation' ? 'admin' : 'viewer';
    if (principal.roles.has(needed)) return undefined;
    return forbidden(
      operation === 'mutation'
        ? 'Mutations need the admin role; this credential does not have it.'
        : 'This credential has no role that may run queries (viewer or admin).',
    );
  }

  return {
    onRequestParse({ request, url, serverContext }) {
      if (url.pathname !== graphqlEndpoint) return;
      let found = byApiKey(request);
      if (found === 'jwt') found = byJwt(request, serverContext as Record<string, unknown>);
      if (!('kind' in found)) {
        const { reason, message } = found;
        return failed(clientAddressOf(serverContext, request), reason, message).then((error) => {
          throw error;
        });
      }
      const principal = found;
      principals.set(request, principal);
      if (rateLimit === undefined) return;
      const caller = `${principal.kind}:${principal.id}`;
      return rateLimit.take(caller).then((decision) => {
        if (decision.allowed) return;
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        refusals.refused('rate_limited', caller, { retryAfterSeconds: seconds });
        throw createGraphQLError(`Too many requests from this caller; retry in ${seconds} s.`, {
          extensions: {
            code: 'RATE_LIMITED' satisfies ErrorCode,
            retryAfterSeconds: seconds,
            http: { status: 429, headers: { 'Retry-After': String(seconds) } },
          },
        });
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      const operation = getOperationAST(args.document, args.operationName)?.operation;
      const error = authorize(request && principals.get(request), operation);
      if (error) setResultAndStopExecution({ errors: [error as never] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const request = (args.contextValue as { request?: Request }).request;
      const error = authorize(request && principals.get(request), 'subscription');
      if (error) setResultAndStopExecution({ errors: [error as never] });
    },
  };
}
