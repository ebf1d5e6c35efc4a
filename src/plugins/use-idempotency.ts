import { createHash } from 'node:crypto';
import { isAsyncIterable } from '@envelop/core';
import { GraphQLError, Source, getOperationAST } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { isNothingApplied } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { IdempotencyUnavailableError } from '../stores/idempotency.js';
import type { Claim, IdempotencyStore, StoredResult } from '../stores/idempotency.js';

/** RFC 8941 sf-string (`"abc"`) or a bare token; 1 to 255 visible ASCII characters. */
const KEY = /^"?([\x21\x23-\x7e]{1,255})"?$/;

/** JSON with sorted object keys: the same variables always give the same fingerprint. */
function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function toStored(result: ExecutionResult): StoredResult {
  const stored = JSON.parse(JSON.stringify({ data: result.data, errors: result.errors })) as StoredResult;
  // Offsets into the document, so a replay can rebuild the same `locations`.
  stored.errors?.forEach((e, i) => {
    const positions = result.errors?.[i]?.positions;
    if (positions) e.positions = [...positions];
  });
  return stored;
}

/** The stored response as GraphQL errors again; the document is the same (the fingerprint says so). */
function fromStored(stored: StoredResult, query: string | undefined): ExecutionResult {
  const source = query === undefined ? undefined : new Source(query);
  const errors = stored.errors?.map(
    (e) =>
      new GraphQLError(e.message, {
        path: e.path,
        extensions: e.extensions,
        ...(source && e.positions ? { source, positions: e.positions } : {}),
      }),
  );
  return { data: stored.data as ExecutionResult['data'], ...(errors ? { errors } : {}) };
}

/** Nothing happened upstream: no root field has data and every error says the call never left. */
function nothingApplied(result: ExecutionResult): boolean {
  const data = result.data as Record<string, unknown> | null | undefined;
  if (data && Object.values(data).some((v) => v !== null)) return false;
  return (result.errors ?? []).length > 0 && (result.errors ?? []).every(isNothingApplied);
}

export interface IdempotencyOptions {
  store: IdempotencyStore;
  principals: WeakMap<Request, Principal>;
}

/**
 * `Idempotency-Key` on mutations (draft-ietf-httpapi-idempotency-key-header): a repeat of
 * the same key by the same caller with the same document, operation name and variables
 * gets the first response again (`Idempotent-Replayed: true`) without running anything;
 * the same key with other content is refused (IDEMPOTENCY_KEY_REUSED, 422); a repeat while
 * the first is still running waits for it. A double-click or a network retry can then never
 * create two users. Outcomes that provably did nothing upstream are not kept, so a retry
 * with the same key after "unreachable" runs for real.
 */
export function useIdempotency({ store, principals }: IdempotencyOptions): Plugin {
  const claimed = new WeakMap<Request, string>();
  const replayed = new WeakSet<Request>();

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as { request?: Request; params?: { query?: string } };
      const request = ctx.request;
      const header = request?.headers.get('idempotency-key');
      if (request === undefined || header === null || header === undefined) return;
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const key = KEY.exec(header.trim())?.[1];
      if (key === undefined) {
        setResultAndStopExecution({
          errors: [
            createGraphQLError('Idempotency-Key must be 1 to 255 visible ASCII characters.', {
              extensions: { code: 'BAD_REQUEST' satisfies ErrorCode, http: { status: 400 } },
            }),
          ],
        });
        return;
      }
      const principal = principals.get(request);
      const scope = `${principal?.kind ?? 'anonymous'}:${principal?.id ?? 'anonymous'}\n${key}`;
      // `params.query` is the document that runs: for a persisted operation (a documentId and
      // no query), usePersistedOperations has already put the manifest's text there.
      const fingerprint = createHash('sha256')
        .update(ctx.params?.query ?? '')
        .update('\0')
        .update(args.operationName ?? '')
        .update('\0')
        .update(stableStringify(args.variableValues ?? {}))
        .digest('base64');
      // Only requests with a key pay for a promise here.
      return (async () => {
        for (;;) {
          let claim: Claim;
          try {
            claim = await store.claim(scope, fingerprint);
          } catch (err) {
            if (!(err instanceof IdempotencyUnavailableError)) throw err;
            // Before any upstream call: a write that cannot be recorded could be doubled by its own retry.
            setResultAndStopExecution({
              errors: [
                createGraphQLError(
                  'Idempotent mutations are unavailable right now (the idempotency store cannot be reached); retry later with the same key, or without a key.',
                  { extensions: { code: 'IDEMPOTENCY_UNAVAILABLE' satisfies ErrorCode, http: { status: 503 } } },
                ),
              ],
            });
            return;
          }
          if (claim.state === 'running') {
            await claim.settled;
            continue;
          }
          if (claim.state === 'new') {
            claimed.set(request, scope);
            return;
          }
          if (claim.state === 'done') {
            replayed.add(request);
            setResultAndStopExecution(fromStored(claim.result, ctx.params?.query));
            return;
          }
          setResultAndStopExecution({
            errors: [
              createGraphQLError(
                'This Idempotency-Key was already used for a different request; use a new key for a new request.',
                { extensions: { code: 'IDEMPOTENCY_KEY_REUSED' satisfies ErrorCode, http: { status: 422 } } },
              ),
            ],
          });
          return;
        }
      })();
    },
    onResultProcess({ request, result }) {
      const scope = claimed.get(request);
      if (scope === undefined) return;
      claimed.delete(request);
      const single = Array.isArray(result) ? result[0] : result;
      if (single === undefined || isAsyncIterable(single) || nothingApplied(single)) return store.release(scope);
      return store.complete(scope, toStored(single));
    },
    onResponse({ request, response }) {
      if (replayed.has(request)) response.headers.set('Idempotent-Replayed', 'true');
    },
  };
}
