import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isGraphQLError } from '../errors.js';
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

export function useErrorCodes(): Plugin {
  return {
    onParse() {
      return ({ result, replaceParseResult }) => {
        if (result instanceof Error) replaceParseResult(withCode(result, 'GRAPHQL_PARSE_FAILED'));
      };
    },
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map((e: unknown) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')));
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          // Variable coercion fails before any resolver runs: no data, no path.
          if (result.data !== undefined && result.data !== null) return;
          if (!result.errors.every((e) => e.path === undefined && e.message.startsWith('Variable "$'))) return;
          setResult({ ...result, errors: result.errors.map((e) => withCode(e, 'BAD_USER_INPUT') as GraphQLError) });
        },
      };
    },
  };
}
