import {
  defaultFieldResolver,
  getNamedType,
  getNullableType,
  getOperationAST,
  isCompositeType,
  isListType,
  isObjectType,
} from 'graphql';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { GatewayContext } from '../context.js';
import type { RefusalLog } from '../http/refusal-log.js';
import { budgetExceededError } from '../request-budget.js';

/**
 * The execution half of the request budget (src/request-budget.ts): every list of objects a
 * resolver returns is charged to the request's entity count as it is produced (graphql-js
 * completes depth-first, so the count crosses the limit after about that many entities of
 * work, not after the whole answer is built). Past the limit a list answers empty, so what
 * remains is cheap, and the request's signal has already ended its pending upstream calls.
 * The same charge paces a big answer over turns of the event loop (RequestBudget.admit).
 */
export function withEntityBudget(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!isListType(getNullableType(field.type)) || !isCompositeType(getNamedType(field.type))) continue;
      const resolve: GraphQLFieldResolver<unknown, GatewayContext> = field.resolve ?? defaultFieldResolver;
      const charge = (value: unknown, ctx: GatewayContext): unknown =>
        !Array.isArray(value) || ctx.call.budget === undefined ? value : ctx.call.budget.admit(value);
      field.resolve = (source, args, ctx: GatewayContext, info) => {
        // Over budget: not even the resolver runs (it would build a list only to drop it).
        if (ctx.call.budget?.breach !== undefined) return [];
        const value = resolve(source, args, ctx, info);
        return value instanceof Promise ? value.then((v: unknown) => charge(v, ctx)) : charge(value, ctx);
      };
    }
  }
  return schema;
}

/**
 * Answers a request that crossed a budget limit with REQUEST_BUDGET_EXCEEDED naming the
 * limit, and logs it with the request id, the caller and the limit through the refusal log
 * (src/http/refusal-log.ts: once per caller and interval, the rest counted). A query's
 * partial data is dropped: it would be arbitrary. A mutation keeps its data, because its
 * writes happened and the client must learn about them.
 */
export function useRequestBudget(
  principals: WeakMap<Request, Principal>,
  refusals: RefusalLog,
): Plugin<GatewayContext> {
  return {
    onExecute({ args }) {
      const ctx = args.contextValue;
      const operation = getOperationAST(args.document, args.operationName)?.operation;
      if (ctx.call.budget && operation === 'query') ctx.call.budget.discardsAnswer = true;
      return {
        onExecuteDone({ result, setResult }) {
          const budget = ctx.call.budget;
          const breach = budget?.breach;
          if (budget === undefined || breach === undefined || !('data' in result || 'errors' in result)) return;
          const caller = principals.get(ctx.request)?.id ?? 'anonymous';
          refusals.refused('request_budget', caller, {
            requestId: ctx.requestId,
            caller,
            limit: breach.limit,
            max: breach.max,
            upstreamCalls: budget.upstreamCalls,
            entities: budget.entities,
          });
          const error = budgetExceededError(breach);
          if (operation === 'mutation') {
            setResult({ ...result, errors: [...(result.errors ?? []), error] });
          } else {
            setResult({ errors: [error] });
          }
        },
      };
    },
  };
}
