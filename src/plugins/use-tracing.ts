import { isAsyncIterable } from '@envelop/core';
import { getOperationAST } from 'graphql';
import type { DocumentNode } from 'graphql';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import type { Plugin } from 'graphql-yoga';
import { codeOf } from '../errors.js';
import type { Tracing } from '../tracing.js';

export interface TracingPluginOptions {
  tracing: Tracing;
  /** Filled here, read by the context factory: the operation span's context per request. */
  traces: WeakMap<Request, Context>;
  endpoint?: string;
}

/**
 * One SERVER span per GraphQL request (OTel's GraphQL conventions: named
 * `<operation type> <operation name>`), continuing the caller's `traceparent` if any. Its
 * context reaches every upstream call of the request through CallContext, so upstream
 * spans are its children. The document and variables are never recorded: literals may
 * hold passwords or keys.
 */
export function useTracing({ tracing, traces, endpoint = '/graphql' }: TracingPluginOptions): Plugin {
  const spans = new WeakMap<Request, Span>();

  const named = (request: Request | undefined, document: DocumentNode, operationName: string | null | undefined) => {
    const span = request && spans.get(request);
    if (span === undefined) return;
    const operation = getOperationAST(document, operationName);
    if (operation === null || operation === undefined) return;
    const name = operation.name?.value;
    span.updateName(name === undefined ? operation.operation : `${operation.operation} ${name}`);
    span.setAttribute('graphql.operation.type', operation.operation);
    if (name !== undefined) span.setAttribute('graphql.operation.name', name);
  };

  return {
    onRequest({ request, url }) {
      if (url.pathname !== endpoint) return;
      // GraphiQL's page is a GET for text/html: not an operation.
      if (request.method === 'GET' && request.headers.get('accept')?.includes('text/html')) return;
      const parent = tracing.extract(request.headers);
      const span = tracing.tracer.startSpan(
        'GraphQL operation',
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'url.path': url.pathname } },
        parent,
      );
      spans.set(request, span);
      traces.set(request, trace.setSpan(parent, span));
    },
    onExecute({ args }) {
      named((args.contextValue as { request?: Request }).request, args.document, args.operationName);
    },
    onSubscribe({ args }) {
      named((args.contextValue as { request?: Request }).request, args.document, args.operationName);
    },
    onResultProcess({ request, result }) {
      const span = spans.get(request);
      if (span === undefined || Array.isArray(result) || isAsyncIterable(result)) return;
      const errors = result.errors;
      if (!errors?.length) return;
      const codes = [...new Set(errors.map(codeOf))];
      span.setAttribute('graphql.error.codes', codes);
      span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(',') });
    },
    onResponse({ request, response }) {
      const span = spans.get(request);
      if (span === undefined) return;
      spans.delete(request);
      span.setAttribute('http.response.status_code', response.status);
      if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}
