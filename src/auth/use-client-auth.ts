import { getOperationAST } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { JWTExtendContextFields } from '@graphql-yoga/plugin-jwt';
import type { AuthConfig, Role } from '../config.js';
import type { ErrorCode } from '../errors.js';
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
}

/**
 * Client authentication, authorisation and the per-caller rate limit.
 *
 * - `onParams` (after Yoga has decided the request is a GraphQL operation, so the GraphiQL
 *   page and /health need no credential): the bearer is an API key, or a JWT the
 *   @graphql-yoga/plugin-jwt plugin has verified, or the request is refused with
 *   UNAUTHENTICATED (401). Then the caller's rate limit: RATE_LIMITED (429) with a retry hint.
 * - `onExecute`/`onSubscribe`: queries need `viewer`, mutations `admin`; otherwise FORBIDDEN
 *   before any resolver (so no upstream call) runs.
 */
export function useClientAuth({ auth, principals, rateLimit }: ClientAuthOptions): Plugin {
  const apiKeys = new ApiKeyRegistry(auth.apiKeys);

  function authenticate(request: Request, serverContext: Record<string, unknown>): Principal {
    if (auth.disabled) return ANONYMOUS_ADMIN;
    const token = bearerOf(request);
    if (token === undefined) {
      throw unauthenticated('Authentication required: send "Authorization: Bearer <API key or JWT>".');
    }
    const byKey = apiKeys.match(token);
    if (byKey !== undefined) return byKey;
    const jwt = serverContext['jwt'] as JWTExtendContextFields | undefined;
    if (auth.jwt !== undefined && jwt !== undefined && jwt.token.value === token) {
      const payload = jwt.payload as Record<string, unknown>;
      const subject = typeof payload['sub'] === 'string' && payload['sub'] !== '' ? payload['sub'] : undefined;
      if (subject === undefined) throw unauthenticated('The token has no subject (sub) claim.');
      return { kind: 'jwt', id: subject, roles: rolesClaim(payload, auth.jwt.rolesClaim) };
    }
    throw unauthenticated('Invalid or expired credential.');
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
    onParams({ request, context }) {
      const principal = authenticate(request, context as Record<string, unknown>);
      principals.set(request, principal);
      if (rateLimit === undefined) return;
      return rateLimit.take(`${principal.kind}:${principal.id}`).then((decision) => {
        if (decision.allowed) return;
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
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
