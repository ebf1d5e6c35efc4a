import { createHash } from 'node:crypto';
import { isAsyncIterable } from '@envelop/core';
import { GraphQLError, Source, getOperationAST } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import { outcomeOf } from '../errors.js';
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

/**
 * Whether a response is the key's final answer. Data is; so is an error the gateway knows
 * to be final (a refused input, a conflict). Not final: every error says nothing was
 * applied (`not_applied`: a retry runs again), or some error's outcome is unknown (the
 * request left and no definite answer came back: a retry runs again and settles it).
 */
function finality(result: ExecutionResult): 'final' | 'not_applied' | 'unknown' {
  const data = result.data as Record<string, unknown> | null | undefined;
  if (data && Object.values(data).some((v) => v !== null)) return 'final';
  const errors = result.errors ?? [];
  if (errors.length === 0) return 'final';
  const outcomes = errors.map(outcomeOf);
  if (outcomes.every((o) => o === 'not_applied')) return 'not_applied';
  if (outcomes.some((o) => o === 'unknown')) return 'unknown';
  return 'final';
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
 * create two users. Only final answers are kept (successes, and refusals such as a conflict
 * or invalid input): an outcome that provably did nothing upstream, or whose effect is
 * unknown (sent, then a timeout, reset or 5xx), is not, so a retry with the same key runs
 * again, and the resolvers settle an unknown effect (a create is looked up by its unique
 * name, a PUT read back).
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
            (args.contextValue as { idempotency?: { retryOfUnknown: boolean } }).idempotency = {
              retryOfUnknown: claim.retryOfUnknown === true,
            };
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
      if (single === undefined || isAsyncIterable(single)) return store.release(scope);
      const final = finality(single);
      if (final !== 'final') return store.release(scope, final);
      return store.complete(scope, toStored(single));
    },
    onResponse({ request, response }) {
      if (replayed.has(request)) response.headers.set('Idempotent-Replayed', 'true');
    },
  };
}
