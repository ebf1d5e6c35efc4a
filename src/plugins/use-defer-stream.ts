import { BREAK, visit } from 'graphql';
import type { DocumentNode, GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult } from '@envelop/core';
import { useDeferStream } from '@graphql-yoga/plugin-defer-stream';
import type { Plugin } from 'graphql-yoga';
import { maskError } from '../errors.js';

/**
 * `@defer` and `@stream` (incremental delivery), with Yoga's plugin: it adds both
 * directives to the schema and their validation rules. A document that uses them is
 * answered as `multipart/mixed` (or SSE with `Accept: text/event-stream`): the first part
 * as soon as the non-deferred fields are resolved, then one part per deferred fragment or
 * streamed item. So a dashboard renders the NPM part while Axis is still answering.
 *
 * graphql-jit does not run these directives (it would answer everything in one part, or
 * refuse), so such documents go to graphql-js: see `usesIncrementalDelivery`, which the
 * jit plugin's `enableIf` asks.
 *
 * Errors inside a subsequent payload (`incremental[].errors`) are masked like any other:
 * envelop's masking only sees a result's top-level `errors`, so without this a deferred
 * field's upstream failure would reach the client as the raw error, without its UPSTREAM_*
 * code.
 */
export function useIncrementalDelivery(): Plugin[] {
  return [
    useDeferStream() as Plugin,
    {
      onExecute() {
        return {
          onExecuteDone(payload) {
            return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
              const parts = (result as { incremental?: Array<{ errors?: readonly GraphQLError[] }> }).incremental;
              if (!parts?.some((part) => part.errors?.length)) return;
              setResult({
                ...result,
                incremental: parts.map((part) =>
                  part.errors?.length
                    ? { ...part, errors: part.errors.map((e) => maskError(e, 'Unexpected error.')) }
                    : part,
                ),
              } as typeof result);
            });
          },
        };
      },
    },
  ];
}

const seen = new WeakMap<DocumentNode, boolean>();

/** Whether the document uses `@defer` or `@stream` anywhere (cached per parsed document). */
export function usesIncrementalDelivery(document: DocumentNode): boolean {
  let found = seen.get(document);
  if (found === undefined) {
    found = false;
    visit(document, {
      Directive(node) {
        if (node.name.value === 'defer' || node.name.value === 'stream') {
          found = true;
          return BREAK;
        }
        return undefined;
      },
    });
    seen.set(document, found);
  }
  return found;
}
