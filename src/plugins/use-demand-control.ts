import { getOperationAST, getVariableValues, Kind } from 'graphql';
import type { DocumentNode, ExecutionArgs, FragmentDefinitionNode, OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../auth/principal.js';
import type { GatewayContext } from '../context.js';
import type { RefusalLog } from '../http/refusal-log.js';
import { estimateCost } from '../demand-control.js';
import { GatewayError } from '../errors.js';

/**
 * Demand control: refuses an operation whose estimated cost (src/demand-control.ts, from
 * schema.graphql's `@cost`/`@listSize`, the document and its variables) is over
 * MAX_OPERATION_COST, before execution starts, so no resolver and no upstream call runs.
 * The answer names the estimate and the limit, and the refusal is logged (rate-limited,
 * src/http/refusal-log.ts) with the request id, the caller and the limit. It runs after validation (graphql-armor's
 * structural limits stay the first line), once per operation.
 */
export function useDemandControl(
  maxCost: number,
  principals: WeakMap<Request, Principal>,
  refusals: RefusalLog,
): Plugin<GatewayContext> {
  const fragmentsOf = new WeakMap<DocumentNode, Record<string, FragmentDefinitionNode>>();
  /**
   * The cost of an operation without variables depends on its document alone: estimated once
   * per parsed document (Yoga's parse cache hands the same DocumentNode back), by operation.
   */
  const fixedCosts = new WeakMap<OperationDefinitionNode, number>();

  function costOf(args: ExecutionArgs, operation: OperationDefinitionNode): number | undefined {
    const fixed = !operation.variableDefinitions?.length;
    if (fixed) {
      const known = fixedCosts.get(operation);
      if (known !== undefined) return known;
    }
    const coerced = getVariableValues(
      args.schema,
      operation.variableDefinitions ?? [],
      (args.variableValues ?? {}) as Record<string, unknown>,
    );
    // Bad variables fail at execution, with their own error.
    if (coerced.coerced === undefined) return undefined;
    let fragments = fragmentsOf.get(args.document);
    if (fragments === undefined) {
      fragments = {};
      for (const def of args.document.definitions)
        if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
      fragmentsOf.set(args.document, fragments);
    }
    const cost = estimateCost({ schema: args.schema, operation, fragments, variables: coerced.coerced });
    if (fixed) fixedCosts.set(operation, cost);
    return cost;
  }

  function refusal(args: ExecutionArgs): GatewayError | undefined {
    const operation = getOperationAST(args.document, args.operationName);
    if (!operation) return undefined;
    const cost = costOf(args, operation);
    if (cost === undefined || cost <= maxCost) return undefined;
    const ctx = args.contextValue as GatewayContext;
    const caller = principals.get(ctx.request)?.id ?? 'anonymous';
    // Through the refusal log: once per caller and interval, so a flood of costly documents
    // cannot flood the log.
    refusals.refused('cost_limit', caller, {
      requestId: ctx.requestId,
      caller,
      limit: 'MAX_OPERATION_COST',
      max: maxCost,
      cost,
    });
    return new GatewayError(
      'COST_LIMIT_EXCEEDED',
      `The operation's estimated cost is ${cost}, over the limit of ${maxCost} (MAX_OPERATION_COST). Ask for smaller pages or fewer nested lists.`,
      { cost, maxCost, http: { status: 400 } },
    );
  }

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refusal(args);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
