import { createGraphQLError } from 'graphql-yoga';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import {
  defaultExtractPersistedOperationId,
  usePersistedOperations as useYogaPersistedOperations,
} from '@graphql-yoga/plugin-persisted-operations';
import type { ErrorCode } from '../errors.js';

export interface PersistedOperationsOptions {
  /** Documents by id (hex SHA-256 of the text), checked against the schema at start. */
  operations: ReadonlyMap<string, string>;
  /** Refuse every document that is not in the manifest. */
  only: boolean;
}

/** `sha256:<hex>` (GraphQL-over-HTTP's prefixed form) and the bare hex GraphQL Codegen emits name the same document. */
const SHA256_PREFIX = 'sha256:';

/**
 * The id a request names: `documentId` (GraphQL-over-HTTP trusted documents; in the JSON body,
 * or in the URL of a GET, which Yoga's GET parser does not pass on), else Apollo's
 * `extensions.persistedQuery.sha256Hash`.
 */
function extractId(params: GraphQLParams, request: Request): string | null {
  let id: unknown = (params as { documentId?: unknown }).documentId;
  if (id === undefined && request.method === 'GET') id = new URL(request.url).searchParams.get('documentId');
  if (typeof id !== 'string' || id === '') id = defaultExtractPersistedOperationId(params, request, {});
  if (typeof id !== 'string') return null;
  return id.startsWith(SHA256_PREFIX) ? id.slice(SHA256_PREFIX.length) : id;
}

/**
 * The refusals are request errors, found before parsing, so nothing runs and no upstream is
 * called. 400 rather than 404 for an unknown id: a 404 is cacheable by default (RFC 9111),
 * and a shared cache must not keep answering "not found" for a GET whose id a later deploy
 * of the manifest knows.
 */
function refusal(code: ErrorCode, message: string) {
  return () => createGraphQLError(message, { extensions: { code, http: { status: 400 } } });
}

/**
 * Persisted operations (trusted documents) through @graphql-yoga/plugin-persisted-operations.
 * The id is swapped for the document's text in the request's params before anything parses
 * it, so everything after (operation limits, parse/validation cache, auth by operation type,
 * the Idempotency-Key fingerprint, error locations, the operation log) sees an ordinary
 * request. Documents are served as text, not as pre-parsed ASTs, for exactly that reason;
 * Yoga's parse cache makes the difference negligible.
 *
 * Must come after useClientAuth: an unauthenticated caller gets 401 before learning whether
 * an id exists.
 */
export function usePersistedOperations({ operations, only }: PersistedOperationsOptions): Plugin {
  return useYogaPersistedOperations({
    getPersistedOperation: (id) => operations.get(id) ?? null,
    allowArbitraryOperations: !only,
    extractPersistedOperationId: extractId,
    customErrors: {
      notFound: refusal(
        'PERSISTED_OPERATION_NOT_FOUND',
        'No persisted operation has this id: the manifest deployed with the gateway does not hold it.',
      ),
      persistedQueryOnly: refusal(
        'PERSISTED_OPERATION_REQUIRED',
        'This gateway runs persisted operations only: send a documentId from the manifest instead of a query.',
      ),
      keyNotFound: () =>
        createGraphQLError(
          only
            ? 'Send the documentId of a persisted operation.'
            : 'Must provide a query string or the documentId of a persisted operation.',
          { extensions: { code: 'BAD_REQUEST' satisfies ErrorCode, http: { status: 400 } } },
        ),
    },
  }) as Plugin;
}
