import { isAsyncIterable } from '@envelop/core';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { GatewayContext } from '../context.js';
import { codeOf, errorCodeOf } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { UpstreamError } from '../upstreams/upstream-error.js';

/**
 * One log line per executed operation: name, type, duration and the error codes it
 * produced. Never the document's variables (they may carry secrets) nor result data.
 */
export function useOperationLog(logger: Logger): Plugin<GatewayContext> {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const ctx = args.contextValue;
      return {
        onExecuteDone({ result }) {
          if (!('errors' in result) && !logger.isLevelEnabled('info')) return;
          const errors = 'errors' in result && result.errors ? result.errors : [];
          const codes = errors.map(codeOf);
          const upstreamFailures = errors.flatMap((e) =>
            e.originalError instanceof UpstreamError
              ? [
                  {
                    path: e.path?.join('.'),
                    upstream: e.originalError.upstream,
                    failure: e.originalError.failure,
                    status: e.originalError.status,
                    errorId: e.originalError.errorId,
                  },
                ]
              : [],
          );
          const operation = getOperationAST(args.document, args.operationName);
          const entry = {
            operationName: args.operationName ?? operation?.name?.value ?? null,
            operationType: operation?.operation,
            ms: Math.round((performance.now() - started) * 10) / 10,
            ...(codes.length ? { errorCodes: codes } : {}),
            ...(upstreamFailures.length ? { upstreamFailures } : {}),
          };
          // The root logger with the request id as a field: the same line as the request's child
          // logger writes, without making one for every request just for this line.
          const requestId = ctx.requestId;
          if (codes.includes('INTERNAL_SERVER_ERROR')) {
            for (const e of errors) {
              if (errorCodeOf(e) === undefined)
                logger.error({ requestId, err: e.originalError ?? e }, 'unexpected error in a resolver');
            }
          }
          if (upstreamFailures.length) logger.warn({ requestId, ...entry }, 'graphql operation with upstream failures');
          else logger.info({ requestId, ...entry }, 'graphql operation');
        },
      };
    },
    // A subscription is one operation that lasts: one line when it ends, with how long it ran,
    // how many events it sent and the error codes among them (its upstream failures are
    // logged once per change by the poller, not per subscriber).
    onSubscribe({ args }) {
      const started = performance.now();
      const ctx = args.contextValue;
      const operation = getOperationAST(args.document, args.operationName);
      const line = (events: number, codes: Set<ErrorCode>) =>
        ctx.call.log.info(
          {
            operationName: args.operationName ?? operation?.name?.value ?? null,
            operationType: 'subscription',
            ms: Math.round(performance.now() - started),
            events,
            ...(codes.size ? { errorCodes: [...codes] } : {}),
          },
          'graphql subscription ended',
        );
      return {
        onSubscribeResult({ result }) {
          const codes = new Set<ErrorCode>();
          const collect = (errors: readonly unknown[] | undefined) => {
            for (const e of errors ?? []) codes.add(codeOf(e));
          };
          if (!isAsyncIterable(result)) {
            collect(result.errors);
            line(0, codes);
            return;
          }
          let events = 0;
          return {
            onNext({ result: event }) {
              events++;
              collect(event.errors);
            },
            onEnd: () => line(events, codes),
          };
        },
      };
    },
  };
}
