import {
  Kind,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  GraphQLSkipDirective,
  GraphQLIncludeDirective,
} from 'graphql';
import type {
  GraphQLDirective,
  FieldNode,
  FragmentDefinitionNode,
  GraphQLField,
  GraphQLNamedType,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
} from 'graphql';

/**
 * Demand control: an operation's cost estimated from the schema, the document and its
 * variables, before anything runs. The rules are the GraphQL cost directive proposal's (IBM's
 * GraphQL cost spec, as Hive Gateway and Apollo implement it):
 *
 * - a field costs its `@cost(weight:)`, else its type's, else 1 for an object and 0 for a
 *   scalar or enum; its sub-selection's cost is added to it;
 * - a list field multiplies that by its expected length: the value of its `@listSize`
 *   slicing argument (the argument's default when omitted), else its `assumedSize`, else
 *   DEFAULT_LIST_SIZE. With `sizedFields`, the slicing argument sizes those child lists
 *   instead (`users(pageSize:) { nodes }`).
 *
 * So the cost is about the number of objects the answer may hold: what memory, CPU and
 * upstream fan-out grow with. `@skip`/`@include` are honoured; fragments are counted where
 * they are spread (abstract selections are summed, which can only overestimate).
 */

/** A list with no `@listSize`. */
export const DEFAULT_LIST_SIZE = 10;

interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
  sizedFields?: string[];
}

type Field = GraphQLField<unknown, unknown>;

const weights = new WeakMap<object, number | null>();
const listSizes = new WeakMap<Field, ListSize | null>();

/** schema.graphql declares `@cost` and `@listSize`; without them, every weight is the default. */
function directive(schema: GraphQLSchema, name: 'cost' | 'listSize'): GraphQLDirective | undefined {
  return schema.getDirective(name) ?? undefined;
}

function weightOf(schema: GraphQLSchema, element: Field | GraphQLNamedType): number | undefined {
  let weight = weights.get(element);
  if (weight === undefined) {
    const node = element.astNode;
    const cost = directive(schema, 'cost');
    const values = node && cost ? getDirectiveValues(cost, node) : undefined;
    weight = typeof values?.['weight'] === 'number' ? values['weight'] : null;
    weights.set(element, weight);
  }
  return weight ?? undefined;
}

function listSizeOf(schema: GraphQLSchema, field: Field): ListSize | undefined {
  let size = listSizes.get(field);
  if (size === undefined) {
    const def = directive(schema, 'listSize');
    const values = field.astNode && def ? getDirectiveValues(def, field.astNode) : undefined;
    size = values ? (values as ListSize) : null;
    listSizes.set(field, size);
  }
  return size ?? undefined;
}

export interface CostInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  /** Coerced variable values. */
  variables: Record<string, unknown>;
}

export function estimateCost({ schema, operation, fragments, variables }: CostInput): number {
  const included = (node: FieldNode | SelectionSetNode['selections'][number]): boolean => {
    if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] !== false;
  };

  const selectionCost = (
    set: SelectionSetNode,
    parent: GraphQLNamedType,
    sized: ReadonlyMap<string, number> | undefined,
    depth: number,
  ): number => {
    // Depth is bounded by the depth limit already; this only guards against a fragment cycle
    // in a document that skipped validation.
    if (depth > 64) return 0;
    let total = 0;
    for (const selection of set.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        if (!(isObjectType(parent) || isInterfaceType(parent))) continue;
        const field = parent.getFields()[selection.name.value];
        if (field !== undefined) total += fieldCost(field, selection, sized?.get(field.name), depth);
      } else {
        const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments[selection.name.value];
        if (fragment === undefined) continue;
        const condition = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : parent;
        if (condition) total += selectionCost(fragment.selectionSet, condition, sized, depth + 1);
      }
    }
    return total;
  };

  const fieldCost = (field: Field, node: FieldNode, sizedByParent: number | undefined, depth: number): number => {
    const type = getNamedType(field.type);
    const weight = weightOf(schema, field) ?? weightOf(schema, type) ?? (isCompositeType(type) ? 1 : 0);
    const listSize = listSizeOf(schema, field);
    const size = listSize ? sizeFrom(listSize, field, node) : undefined;
    let multiplier = 1;
    let sized: Map<string, number> | undefined;
    if (listSize?.sizedFields?.length && size !== undefined) {
      sized = new Map(listSize.sizedFields.map((name) => [name, size]));
    } else if (isListType(getNullableType(field.type))) {
      multiplier = sizedByParent ?? size ?? DEFAULT_LIST_SIZE;
    }
    const children = node.selectionSet ? selectionCost(node.selectionSet, type, sized, depth + 1) : 0;
    return multiplier * (weight + children);
  };

  const sizeFrom = (listSize: ListSize, field: Field, node: FieldNode): number | undefined => {
    let args: Record<string, unknown> = {};
    try {
      args = getArgumentValues(field, node, variables);
    } catch {
      // Invalid arguments fail at execution with their own error; estimate from the defaults.
    }
    const sliced = (listSize.slicingArguments ?? [])
      .map((name) => args[name])
      .filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
    if (sliced.length > 0) return Math.max(0, ...sliced);
    return listSize.assumedSize ?? undefined;
  };

  const root = schema.getRootType(operation.operation);
  return root ? selectionCost(operation.selectionSet, root, undefined, 0) : 0;
}
