import { Kind } from 'graphql';
import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/** Fields of every selection set in `sets`, fragments flattened (directives are not evaluated: a guess that errs on fetching). */
function fieldsOf(sets: readonly SelectionSetNode[], info: GraphQLResolveInfo) {
  const out: Array<{ name: string; selectionSet: SelectionSetNode | undefined }> = [];
  const walk = (set: SelectionSetNode, depth: number): void => {
    if (depth > 10) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) out.push({ name: sel.name.value, selectionSet: sel.selectionSet });
      else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet, depth + 1);
      else {
        const fragment = info.fragments[sel.name.value];
        if (fragment) walk(fragment.selectionSet, depth + 1);
      }
    }
  };
  for (const set of sets) walk(set, 0);
  return out;
}

/**
 * Whether the field being resolved selects `child` with anything beyond `cheap` fields,
 * e.g. `groups { users { email } }` (a user's email needs the whole user) as opposed to
 * `groups { users { id userName } }` (answered by the references). Lets a resolver start
 * the next level's fetch now, in parallel with this one.
 */
export function selectsBeyond(info: GraphQLResolveInfo, child: string, cheap: ReadonlySet<string>): boolean {
  // graphql-js hands every item of a list the same fieldNodes array: answer once per array.
  let byChild = memo.get(info.fieldNodes);
  if (byChild === undefined) memo.set(info.fieldNodes, (byChild = new Map()));
  let answer = byChild.get(child);
  if (answer === undefined) byChild.set(child, (answer = compute(info, child, cheap)));
  return answer;
}

const memo = new WeakMap<GraphQLResolveInfo['fieldNodes'], Map<string, boolean>>();

function compute(info: GraphQLResolveInfo, child: string, cheap: ReadonlySet<string>): boolean {
  const own = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const field of fieldsOf(own, info)) {
    if (field.name !== child || field.selectionSet === undefined) continue;
    if (fieldsOf([field.selectionSet], info).some((f) => !cheap.has(f.name))) return true;
  }
  return false;
}

/**
 * The names of the fields the field being resolved selects on its value, fragments flattened
 * (directives are not evaluated: a guess that errs on fetching). Computed once per field of
 * the document, like selectsBeyond.
 */
export function selectedFields(info: GraphQLResolveInfo): ReadonlySet<string> {
  let names = selected.get(info.fieldNodes);
  if (names === undefined) {
    const own = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
    selected.set(info.fieldNodes, (names = new Set(fieldsOf(own, info).map((f) => f.name))));
  }
  return names;
}

const selected = new WeakMap<GraphQLResolveInfo['fieldNodes'], ReadonlySet<string>>();
