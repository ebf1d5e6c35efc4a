import { isAsyncIterable } from '@envelop/core';
import { GraphQLError, Kind, getOperationAST } from 'graphql';
import type {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  OperationDefinitionNode,
  SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isGraphQLError } from '../errors.js';
import { SecretSet, secretsInBody } from '../secrecy.js';
import type { ErrorCode } from '../errors.js';

/**
 * graphql-js reports syntax, validation and variable-coercion errors without a code. Clients
 * branch on `extensions.code`, so every such error gets one: a variable that does not fit
 * its type (an invalid DateTime, a string for an Int) is the caller's input, BAD_USER_INPUT,
 * and its message already names the variable and the path inside it.
 */
function withCode(error: unknown, code: ErrorCode): unknown {
  if (!isGraphQLError(error) || error.extensions?.['code'] !== undefined) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/** Code for an error that reached the response without one, by the HTTP status Yoga gives it. */
function codeForUncoded(error: GraphQLError): ErrorCode {
  const status = (error.extensions?.['http'] as { status?: number } | undefined)?.status;
  if (status === 401) return 'UNAUTHENTICATED';
  // The CSRF check's refusal (only met with client auth off: a credential satisfies it).
  if (status === 403) return 'FORBIDDEN';
  if (status !== undefined && status >= 400 && status < 500) return 'BAD_REQUEST';
  // graphql-armor's limits throw during validation ("Syntax Error: Query depth limit...").
  return 'GRAPHQL_VALIDATION_FAILED';
}

/**
 * Last pass over every response: each error has an `extensions.code` (the CSRF check and
 * the operation limits throw without one), and none prints `extensions.originalError`
 * (Yoga's JSON-body error puts the parser's message there, which echoes the request body).
 * Edited in place, because Yoga reads these very objects afterwards: it answers 400 rather
 * than 200 when `originalError` is present, so that property stays, non-enumerable, which
 * keeps it out of the serialised response.
 */
function finalizeErrors(errors: readonly GraphQLError[]): void {
  for (const error of errors) {
    const ext = error.extensions as Record<string, unknown> | undefined;
    if (ext === undefined || Object.isFrozen(ext)) continue;
    if (Object.prototype.propertyIsEnumerable.call(ext, 'originalError')) {
      Object.defineProperty(ext, 'originalError', { value: ext['originalError'], enumerable: false });
    }
    if (ext['code'] === undefined) ext['code'] = codeForUncoded(error);
  }
}

/** The field node a response path points at: response keys (alias or name) through the selections, fragments included. */
function fieldNodeAt(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  path: ReadonlyArray<string | number>,
): FieldNode | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const find = (set: SelectionSetNode, key: string, depth = 0): FieldNode | undefined => {
    if (depth > 20) return undefined;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if ((sel.alias ?? sel.name).value === key) return sel;
      } else {
        const inner =
          sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : fragments.get(sel.name.value)?.selectionSet;
        const found = inner && find(inner, key, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  let set: SelectionSetNode | undefined = operation.selectionSet;
  let node: FieldNode | undefined;
  for (const key of path) {
    if (typeof key === 'number') continue;
    if (set === undefined) return undefined;
    node = find(set, key);
    if (node === undefined) return undefined;
    set = node.selectionSet;
  }
  return node;
}

/**
 * graphql-jit (used for queries) reports resolver errors with a path and plain `locations`
 * but without AST nodes, and every later copy of an error (masking, Yoga's serialiser)
 * rebuilds locations from the nodes. Attach the field's node from the document, so clients
 * see the same errors whichever executor ran.
 */
function withLocations(
  errors: readonly GraphQLError[],
  document: DocumentNode,
  operationName: string | null | undefined,
): readonly GraphQLError[] {
  if (!errors.some((e) => e.path !== undefined && e.nodes === undefined)) return errors;
  const operation = getOperationAST(document, operationName);
  if (!operation) return errors;
  return errors.map((e) => {
    if (e.path === undefined || e.nodes !== undefined) return e;
    const node = fieldNodeAt(document, operation, e.path);
    if (!node) return e;
    return new GraphQLError(e.message, {
      nodes: [node],
      path: e.path,
      originalError: e.originalError,
      extensions: e.extensions,
    });
  });
}

/** Request-level errors: the document never ran, so the response has no `data`. */
const REQUEST_LEVEL: ReadonlySet<unknown> = new Set<ErrorCode>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * One status rule for request-level errors (parse, validation, variable coercion, operation
 * resolution), whichever executor ran: the GraphQL-over-HTTP spec's. Under
 * `application/graphql-response+json` a response without `data` is 400; under
 * `application/json` it is 200 (the spec's SHOULD for a well-formed request, what legacy
 * clients expect). Yoga's `http.spec` flag says exactly that to its status logic.
 */
function withSpecStatus(errors: readonly GraphQLError[]): readonly GraphQLError[] {
  return errors.map((e) => {
    const http = e.extensions?.['http'] as { status?: number; spec?: boolean } | undefined;
    if (http?.spec === true && http.status === 400) return e;
    const { http: _old, ...extensions } = (e.extensions ?? {}) as Record<string, unknown>;
    void _old;
    return new GraphQLError(e.message, {
      nodes: e.nodes,
      source: e.source,
      positions: e.positions,
      path: e.path,
      extensions: { ...extensions, http: { status: 400, spec: true } },
    });
  });
}

/** The variable a coercion error names ("Variable "$n" got invalid value..."), as graphql-js locates it. */
function variableNode(document: DocumentNode, operationName: string | null | undefined, message: string) {
  const name = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)"/.exec(message)?.[1];
  if (name === undefined) return undefined;
  return getOperationAST(document, operationName)?.variableDefinitions?.find((d) => d.variable.name.value === name);
}

function withoutSecretValues(error: GraphQLError, secrets: SecretSet): GraphQLError {
  if (!secrets.leaksInto(error.message)) return error;
  return new GraphQLError(secrets.scrub(error.message), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const executed = result;
      const errors = executed.errors;
      if (!errors?.length) return;
      finalizeErrors(errors);
      if (executed.data == null && errors.every((e) => REQUEST_LEVEL.has(e.extensions?.['code']))) {
        const { data: _data, ...rest } = executed;
        void _data;
        setResult({ ...rest, errors: withSpecStatus(errors) });
      }
    },
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (!(result instanceof Error)) return;
        // graphql-js parses recursively: ~2000 nested list literals overflow the stack before
        // the token limit is reached. That is the caller's document, not our fault.
        if (result instanceof RangeError) {
          replaceParseResult(
            new GraphQLError('Syntax Error: the document is nested too deeply.', {
              extensions: { code: 'GRAPHQL_PARSE_FAILED' satisfies ErrorCode },
            }),
          );
          return;
        }
        replaceParseResult(withCode(result, 'GRAPHQL_PARSE_FAILED'));
      };
    },
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map((e: unknown) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')));
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          let errors = withLocations(result.errors, args.document, args.operationName);
          // Variable coercion fails before any resolver runs: no data, no path.
          // Past 50 problems graphql-js adds one "Too many errors processing variables" error.
          const isVariableError = (e: GraphQLError) =>
            e.path === undefined &&
            (e.message.startsWith('Variable "$') || e.message.startsWith('Too many errors processing variables'));
          if ((result.data === undefined || result.data === null) && errors.every(isVariableError)) {
            // graphql-jit reports these without locations; graphql-js points at the variable's
            // definition. Both answer alike: code, location of the definition.
            errors = errors.map((e) => {
              const node =
                e.nodes === undefined ? variableNode(args.document, args.operationName, e.message) : undefined;
              const located = node
                ? new GraphQLError(e.message, {
                    nodes: [node],
                    originalError: e.originalError,
                    extensions: e.extensions,
                  })
                : e;
              return withCode(located, 'BAD_USER_INPUT') as GraphQLError;
            });
            // graphql-js prints the invalid value in the message, secret fields included
            // (`got invalid value { ..., appPassword: "..." }`): every run of a secret the
            // variables carry is removed before the caller (or a log line) sees it.
            const secrets = new SecretSet(secretsInBody(args.variableValues ?? {}));
            if (secrets.size > 0) errors = errors.map((e) => withoutSecretValues(e, secrets));
          }
          if (errors !== result.errors) setResult({ ...result, errors });
        },
      };
    },
  };
}
