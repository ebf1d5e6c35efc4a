import { timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isAsyncIterable } from '@envelop/core';
import { getOperationAST } from 'graphql';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { digest } from '../auth/api-keys.js';
import { codeOf } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { GatewayMetrics } from '../metrics.js';

export interface MetricsPluginOptions {
  metrics: GatewayMetrics;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  token: string | undefined;
  endpoint?: string;
}

/** Codes as clients see them (a subscription event's errors may not be masked yet: codeOf reads through). */
function codesOf(errors: readonly GraphQLError[] | undefined): ErrorCode[] {
  return errors?.length ? errors.map(codeOf) : [];
}

/** What the timing hooks know of a request's operation once its document parsed. */
interface ParsedOperation {
  /** The label value: the selected operation's name, through operationLabel. */
  name: string;
  type: string;
  /** Introspection (`__schema` in the source) is not timed as an operation. */
  introspection: boolean;
}

/**
 * Prometheus metrics: every operation's duration (`graphql_envelop_request_duration`) and
 * every GraphQL HTTP request's (`graphql_yoga_http_duration`), the names, labels and
 * observation points of @graphql-yoga/plugin-prometheus, which this replaced (its per-request
 * label objects, closures and hashing cost a tenth of the CPU of the cheapest query; here one
 * histogram child per label set, found by a string); errors by `extensions.code`; and the
 * registry, upstream and circuit metrics included, at `GET /metrics`. Every label is bounded
 * (no URL label, operation names through `operationLabel`).
 *
 * Placed after useErrorCodes, so every error it counts already has its code.
 */
export function useMetrics({ metrics, token, endpoint = '/metrics' }: MetricsPluginOptions): Plugin {
  const { registry } = metrics;
  const expected = token === undefined ? undefined : digest(token);
  const started = new WeakMap<Request, number>();
  const operations = new WeakMap<Request, ParsedOperation>();
  const seconds = (since: number) => (performance.now() - since) / 1000;
  /** Times one operation from now until `done` (its result, or the end of its stream). */
  const timeOperation = (request: Request | undefined) => {
    const op = request === undefined ? undefined : operations.get(request);
    if (op === undefined || op.introspection) return undefined;
    const start = performance.now();
    const done = () => metrics.operationDone(op.name, op.type, seconds(start));
    return (result: unknown) => {
      if (isAsyncIterable(result)) return { onEnd: done };
      done();
      return undefined;
    };
  };

  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint) {
        started.set(request, performance.now());
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      if (expected !== undefined) {
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
          endResponse(
            new fetchAPI.Response('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n', {
              status: 401,
              headers: { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' },
            }),
          );
          return;
        }
      }
      return registry.metrics().then((text) => {
        endResponse(
          new fetchAPI.Response(request.method === 'HEAD' ? null : text, {
            headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
          }),
        );
      });
    },
    onParse({ context, params }) {
      const request = (context as { request?: Request }).request;
      if (request === undefined) return undefined;
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      return ({ result }) => {
        if (result === null || result instanceof Error) return;
        const operationName = (context as { params?: { operationName?: string | null } }).params?.operationName;
        const operation = getOperationAST(result, operationName);
        operations.set(request, {
          name: metrics.operationLabel(operation?.name?.value),
          type: operation?.operation ?? 'unknown',
          introspection: source.includes('__schema'),
        });
      };
    },
    onResponse({ request, response }) {
      const start = started.get(request);
      const op = operations.get(request);
      if (start === undefined || op === undefined) return;
      metrics.httpDone(op.name, op.type, request.method, response.status, seconds(start));
    },
    onExecute({ args }) {
      const done = timeOperation((args.contextValue as { request?: Request }).request);
      if (done === undefined) return undefined;
      return { onExecuteDone: ({ result }) => done(result) };
    },
    onSubscribe({ args }) {
      const done = timeOperation((args.contextValue as { request?: Request }).request);
      return {
        onSubscribeResult({ result }) {
          return {
            ...done?.(result),
            onNext({ result }) {
              metrics.graphqlErrors(codesOf(result.errors), 'subscription');
            },
          };
        },
      };
    },
    onResultProcess({ request, result }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const codes = codesOf(result.errors);
      if (codes.length > 0) metrics.graphqlErrors(codes, operations.get(request)?.type ?? 'unknown');
    },
  };
}
