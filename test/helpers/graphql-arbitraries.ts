/**
 * fast-check arbitraries for fuzzing a GraphQL endpoint: operations generated from the real
 * schema (right and wrong), mutated documents, hostile strings and raw JSON text.
 *
 * The schema walk draws its choices from a generator seeded by fast-check (`fc.gen()`), so a
 * seed replays the same documents. A `sloppiness` drawn per document decides how often it
 * breaks a rule (unknown field, wrong argument type, undeclared variable...): about half the
 * documents are valid and reach the resolvers and the upstreams, the rest probe parsing and
 * validation.
 */
import fc from 'fast-check';
import {
  GraphQLBoolean,
  GraphQLList,
  GraphQLNonNull,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import type {
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLNullableType,
  GraphQLObjectType,
  GraphQLSchema,
} from 'graphql';

/** Prefix of every generated write-only secret (`appPassword`, `sshPrivateKey`): none may ever be logged. */
export const WRITE_ONLY_MARK = 'wo-secret-';

/** One GraphQL request as the JSON body carries it. */
export interface GeneratedOperation {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** The choices a generator needs; a seed replays them. */
interface Rng {
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A value of a fast-check arbitrary (strings, emails, dates). */
  draw<T>(arb: fc.Arbitrary<T>): T;
}

/**
 * Small choices come from a mulberry32 generator seeded by fast-check, values of other
 * arbitraries from fast-check itself. Every choice through `fc.gen()` would be simpler, but it
 * keeps a history per draw and a document takes hundreds of choices: generation went from
 * seconds to a fraction of one.
 */
function rngOf(g: fc.GeneratorValue): Rng {
  let state = g(fc.integer, { min: 0, max: 0x7fffffff });
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]) => items[int(0, items.length - 1)] as T,
    draw: <T>(arb: fc.Arbitrary<T>) => g(() => arb),
  };
}

// ---------------------------------------------------------------------------
// Strings and scalars
// ---------------------------------------------------------------------------

/** A lone UTF-16 surrogate: valid in a JS string and in JSON (`\ud800`), invalid everywhere else. */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

const SPECIAL_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\n\r\t',
  '\ud800',
  '\udfff',
  'x\udc00y',
  '\uffff',
  '\ufeff',
  '\u2028\u2029',
  '😀',
  'e\u0301',
  '%00',
  '../',
  '"',
  '\\',
  '${}',
  '<script>',
  "' OR 1=1 --",
  '{{7*7}}',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '   at foo (/src/x.ts:1:1)',
];

/** Hostile but short strings: unicode, control characters, lone surrogates. */
export const fuzzString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate),
      maxLength: 12,
    }),
  },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 1100 }) },
);

const KNOWN_IDS = [
  'u-0001',
  'u-0002',
  'u-0042',
  'u-0119',
  'u-0120',
  'u-9999',
  'g-001',
  'g-002',
  'g-003',
  'g-012',
  'g-999',
  'prod-eastus',
  'staging-westeurope',
  'dr-northeurope',
  'nope',
];
const NASTY_IDS = [
  '',
  '.',
  '..',
  '../users',
  'a/b',
  '%2e%2e',
  'u-0001?x=1',
  'u-0001#x',
  ' u-0001',
  '\u0000',
  'x'.repeat(300),
];

const emailAddress = fc.emailAddress();

const EDGE_INTS = [0, 1, -1, 2, 10, 100, 999, 1000, 1001, 2147483647, -2147483648];

const finiteDouble = fc.double({ noNaN: true, noDefaultInfinity: true });

const validDateTime = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const oddDateTime = fc.constantFrom(
  '2027-06-30T17:00:00Z',
  '2027-06-30',
  '2027-13-45T25:61:61Z',
  'next tuesday',
  '0000-00-00T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '1970-01-01T00:00:00+14:00',
  '',
);

/** A literal that is printed as is: enum values, out-of-range numbers, odd spellings. */
class RawLiteral {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    const n = Number(this.text);
    return Number.isFinite(n) ? n : this.text;
  }
}

/** `$name` inside a literal. */
class VariableRef {
  constructor(readonly name: string) {}
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** Prints a JS value as a GraphQL literal (keys that are not GraphQL names are dropped). */
function printLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof RawLiteral) return value.text;
  if (value instanceof VariableRef) return `$${value.name}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(printLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([k]) => GRAPHQL_NAME.test(k));
    return `{${entries.map(([k, v]) => `${k}: ${printLiteral(v)}`).join(', ')}}`;
  }
  return 'null';
}

// ---------------------------------------------------------------------------
// Schema walk
// ---------------------------------------------------------------------------

interface DeclaredVariable {
  name: string;
  /** As written in the definition; a sloppy document may declare the wrong type. */
  type: string;
  value: unknown;
  provide: boolean;
  declare: boolean;
  defaultValue?: string;
}

/**
 * Objects a list field may return in the simulators' seed data (120 users, 12 groups, about
 * 20 members a group, about 2 groups a user). Selections are kept under OBJECT_BUDGET objects
 * so a valid document stays cheap to execute: depth comes from fragments, not from fan-out.
 */
const FAN_OUT: Record<string, number> = {
  'Query.users': 120,
  'Query.groups': 12,
  'Query.azureAccounts': 5,
  'User.groups': 3,
  'Group.users': 20,
};
const OBJECT_BUDGET = 500;

class OperationGenerator {
  readonly variables: DeclaredVariable[] = [];
  readonly fragments: string[] = [];
  #varCount = 0;
  #aliasCount = 0;

  constructor(
    readonly schema: GraphQLSchema,
    readonly rng: Rng,
    /** Probability that any one choice breaks a rule. */
    readonly sloppiness: number,
    readonly maxDepth: number,
  ) {}

  mistake(): boolean {
    return this.sloppiness > 0 && this.rng.chance(this.sloppiness);
  }

  /** A value for `type`; `literal` allows variables inside it (they are declared on the way). */
  inputValue(type: GraphQLInputType, depth: number, literal: boolean): unknown {
    const { rng } = this;
    if (this.mistake()) return this.wrongValue();
    if (literal && depth > 0 && rng.chance(0.05)) return this.variableFor(type);
    if (isNonNullType(type)) return this.nonNullValue(type.ofType, depth, literal);
    if (rng.chance(0.04)) return null;
    return this.nonNullValue(type, depth, literal);
  }

  nonNullValue(type: GraphQLInputType, depth: number, literal: boolean): unknown {
    const { rng } = this;
    if (isNonNullType(type)) return this.nonNullValue(type.ofType, depth, literal);
    if (isListType(type)) {
      // Input coercion accepts a single item for a list.
      if (rng.chance(0.1)) return this.inputValue(type.ofType, depth + 1, literal);
      const n = rng.int(0, 4);
      return Array.from({ length: n }, () => this.inputValue(type.ofType, depth + 1, literal));
    }
    if (isInputObjectType(type)) {
      const out: Record<string, unknown> = {};
      for (const field of Object.values(type.getFields())) {
        const include = isNonNullType(field.type) ? !this.mistake() : rng.chance(0.5);
        if (include) out[field.name] = this.fieldValue(field.name, field.type, depth + 1, literal);
      }
      if (this.mistake()) out[rng.pick(['bogus', 'id', 'password', '__proto__'])] = rng.draw(fuzzString);
      return out;
    }
    if (isEnumType(type)) return new RawLiteral(rng.pick(type.getValues()).name);
    return this.scalarValue(type.name);
  }

  fieldValue(name: string, type: GraphQLInputType, depth: number, literal: boolean): unknown {
    const { rng } = this;
    if ((name === 'appPassword' || name === 'sshPrivateKey') && rng.chance(0.8)) {
      return `${WRITE_ONLY_MARK}${rng.int(0, 999_999)}`;
    }
    if (name === 'email' && rng.chance(0.7)) return rng.draw(emailAddress);
    if ((name === 'userName' || name === 'name') && rng.chance(0.6)) return `fuzz.${rng.int(0, 999_999_999)}`;
    return this.inputValue(type, depth, literal);
  }

  scalarValue(name: string): unknown {
    const { rng } = this;
    switch (name) {
      case 'ID':
        if (rng.chance(0.1)) return rng.int(0, 1000);
        return rng.chance(0.75) ? rng.pick(KNOWN_IDS) : rng.chance(0.5) ? rng.pick(NASTY_IDS) : rng.draw(fuzzString);
      case 'Int':
        return rng.chance(0.5) ? rng.pick(EDGE_INTS) : rng.int(-5, 1200);
      case 'Float':
        return rng.draw(finiteDouble);
      case 'Boolean':
        return rng.chance(0.5);
      case 'DateTime':
        return rng.chance(0.7) ? rng.draw(validDateTime) : rng.draw(oddDateTime);
      default:
        return rng.draw(fuzzString);
    }
  }

  /** A value of some other type, or a literal that is not valid at all. */
  wrongValue(): unknown {
    const { rng } = this;
    switch (rng.int(0, 7)) {
      case 0:
        return rng.draw(fuzzString);
      case 1:
        return rng.int(-10, 10);
      case 2:
        return new RawLiteral(rng.pick(['2147483648', '-2147483649', '1e400', '3.5', '0x10', '007', 'NaN', 'true']));
      case 3:
        return rng.chance(0.5);
      case 4:
        return new RawLiteral(rng.pick(['SYNC_FAILED', 'FOO', 'null', 'Infinity']));
      case 5:
        return { bogus: rng.draw(fuzzString) };
      case 6:
        return [rng.draw(fuzzString), rng.int(0, 9)];
      default:
        return new VariableRef(`undeclared${rng.int(0, 9)}`);
    }
  }

  /** Declares a variable of `type` (maybe wrongly), picks its value, and returns the reference. */
  variableFor(type: GraphQLInputType): VariableRef {
    const { rng } = this;
    const name = `v${this.#varCount++}`;
    const nullable = !isNonNullType(type);
    const declaredType = this.mistake() ? this.randomTypeName() : String(type);
    const value = this.mistake() ? this.wrongValue() : this.inputValue(type, 0, false);
    const variable: DeclaredVariable = {
      name,
      type: declaredType,
      value,
      provide: nullable ? rng.chance(0.85) : !this.mistake(),
      declare: !this.mistake(),
    };
    if (nullable && rng.chance(0.1)) variable.defaultValue = printLiteral(this.inputValue(type, 0, false));
    this.variables.push(variable);
    return new VariableRef(name);
  }

  randomTypeName(): string {
    const { rng } = this;
    const names = ['ID', 'ID!', 'String', 'Int!', 'Boolean', '[ID!]!', 'DateTime', 'CreateUserInput', 'User', 'Nope'];
    return rng.pick(names);
  }

  args(field: GraphQLField<unknown, unknown>): { text: string; values: Record<string, unknown> } {
    const { rng } = this;
    const parts: string[] = [];
    const values: Record<string, unknown> = {};
    for (const arg of field.args) {
      const include = isNonNullType(arg.type) ? !this.mistake() : rng.chance(0.5);
      if (!include) continue;
      const value = rng.chance(0.35) ? this.variableFor(arg.type) : this.inputValue(arg.type, 0, true);
      values[arg.name] = value;
      parts.push(`${arg.name}: ${printLiteral(value)}`);
    }
    if (this.mistake())
      parts.push(`${rng.pick(['bogus', 'first', 'id', 'where'])}: ${printLiteral(this.wrongValue())}`);
    if (this.mistake() && parts.length > 0) parts.push(rng.pick(parts));
    return { text: parts.length > 0 ? `(${parts.join(', ')})` : '', values };
  }

  directives(): string {
    const { rng } = this;
    if (!rng.chance(0.12)) return '';
    if (this.mistake())
      return rng.pick([' @nope', ' @include', ' @skip(if: "yes")', ' @include(if: true) @include(if: true)']);
    const name = rng.pick(['include', 'skip']);
    const condition = rng.chance(0.5)
      ? String(rng.chance(0.5))
      : printLiteral(this.variableFor(new GraphQLNonNull(GraphQLBoolean)));
    return ` @${name}(if: ${condition})`;
  }

  selectionSet(type: GraphQLObjectType, depth: number, objects: number): string {
    const { rng } = this;
    const n = rng.int(1, depth === 0 ? 3 : 4);
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(this.selection(type, depth, objects));
    return `{ ${items.join(rng.pick([' ', ', ', '\n']))} }`;
  }

  selection(type: GraphQLObjectType, depth: number, objects: number): string {
    const { rng } = this;
    const roll = rng.int(0, 99);
    const canNest = depth < this.maxDepth;
    if (roll < 10 && canNest) {
      const on = this.mistake() ? this.randomOutputTypeName() : type.name;
      const condition = rng.chance(0.2) ? '' : ` on ${on}`;
      return `...${condition}${this.directives()} ${this.selectionSet(type, depth + 1, objects)}`;
    }
    if (roll < 18 && canNest) {
      if (this.mistake()) return `...Undefined${rng.int(0, 9)}`;
      const name = `F${this.fragments.length}`;
      const on = this.mistake() ? this.randomOutputTypeName() : type.name;
      // Reserve the slot first so nested fragments get their own names.
      this.fragments.push('');
      this.fragments[Number(name.slice(1))] =
        `fragment ${name} on ${on} ${this.selectionSet(type, depth + 1, objects)}`;
      return `...${name}${this.directives()}`;
    }
    if (roll < 20 && this.mistake()) return rng.pick(['nope', 'password', '__schema', 'groups', 'totalRecords']);
    return this.field(type, depth, objects);
  }

  randomOutputTypeName(): string {
    return this.rng.pick(['User', 'Group', 'Query', 'Mutation', 'AzureAccount', 'CloudStatus', 'String', 'Nope']);
  }

  field(type: GraphQLObjectType, depth: number, objects: number): string {
    const { rng } = this;
    const affordable = Object.values(type.getFields()).filter((f) => {
      const named = getNamedType(f.type);
      if (!isCompositeType(named)) return true;
      if (depth >= this.maxDepth) return false;
      return objects * (FAN_OUT[`${type.name}.${f.name}`] ?? 1) <= OBJECT_BUDGET;
    });
    if (affordable.length === 0 || rng.chance(0.05)) return '__typename';
    const field = rng.pick(affordable);
    const { text } = this.args(field);
    // Unique aliases keep same-named fields with different arguments from conflicting; a
    // sloppy document reuses one.
    const alias = text !== '' || rng.chance(0.2) ? `${this.mistake() ? 'a' : `a${this.#aliasCount++}`}: ` : '';
    const named: GraphQLNamedType = getNamedType(field.type);
    let sub = '';
    if (isObjectType(named)) {
      const below = objects * (FAN_OUT[`${type.name}.${field.name}`] ?? 1);
      if (!this.mistake()) sub = ` ${this.selectionSet(named, depth + 1, below)}`;
    } else if (this.mistake()) {
      sub = ' { id }';
    }
    return `${alias}${field.name}${text}${this.directives()}${sub}`;
  }

  /** One operation; its variables are appended to `this.variables`. */
  operation(kind: 'query' | 'mutation' | 'subscription', name: string | undefined): string {
    const { rng } = this;
    const root = kind === 'mutation' ? this.schema.getMutationType() : this.schema.getQueryType();
    if (root === null || root === undefined) throw new Error('schema without root types');
    const first = this.variables.length;
    const selection = this.selectionSet(root, 0, 1);
    const defs = this.variables
      .slice(first)
      .filter((v) => v.declare)
      .map((v) => `$${v.name}: ${v.type}${v.defaultValue === undefined ? '' : ` = ${v.defaultValue}`}`);
    if (this.mistake()) defs.push(`$unused${rng.int(0, 9)}: Int`);
    if (this.mistake() && defs.length > 0) defs.push(rng.pick(defs));
    if (kind === 'query' && name === undefined && defs.length === 0 && rng.chance(0.5)) return selection;
    const header = [kind, name ?? '', defs.length > 0 ? `(${defs.join(', ')})` : ''].join(' ');
    return `${header}${this.mistake() ? ' @include(if: true)' : ''} ${selection}`;
  }
}

/** Documents (with variables) from the schema: 1 to 3 operations, fragments, depth up to 15. */
export function generatedOperation(schema: GraphQLSchema): fc.Arbitrary<GeneratedOperation> {
  return fc.gen().map((g) => {
    const rng = rngOf(g);
    const sloppiness = rng.pick([0, 0, 0, 0.02, 0.05, 0.1, 0.3]);
    const gen = new OperationGenerator(schema, rng, sloppiness, rng.int(1, 15));
    const count = rng.chance(0.85) ? 1 : rng.int(2, 3);
    const names: Array<string | undefined> = [];
    const operations: string[] = [];
    for (let i = 0; i < count; i++) {
      const kind = gen.mistake() && rng.chance(0.3) ? 'subscription' : rng.chance(0.7) ? 'query' : 'mutation';
      const name = count === 1 && rng.chance(0.5) ? undefined : gen.mistake() && i > 0 ? names[0] : `Op${i}`;
      names.push(name);
      operations.push(gen.operation(kind, name));
    }
    if (gen.mistake()) gen.fragments.push(`fragment Unused on User { id }`);
    if (gen.mistake()) gen.fragments.push(`fragment Cycle on User { id ...Cycle }`);
    const query = [...operations, ...gen.fragments].join('\n');

    const variables: Record<string, unknown> = {};
    for (const v of gen.variables) if (v.provide) variables[v.name] = v.value;
    const op: GeneratedOperation = { query };
    if (gen.variables.length > 0 || rng.chance(0.2)) op.variables = rng.chance(0.05) ? null : variables;
    const named = names.filter((n): n is string => n !== undefined);
    if (count > 1 ? !gen.mistake() : rng.chance(0.3) && named.length > 0) op.operationName = rng.pick(named);
    else if (gen.mistake()) op.operationName = rng.pick(['Nowhere', '', 'op0']);
    return op;
  });
}

/** A JSON value for a variable of `typeText` (e.g. `[AzureAccountInput!]!`), right most of the time. */
export function variableValue(schema: GraphQLSchema, typeText: string): fc.Arbitrary<unknown> {
  const type = parseTypeText(schema, typeText);
  return fc.gen().map((g) => {
    const rng = rngOf(g);
    const gen = new OperationGenerator(schema, rng, rng.pick([0, 0, 0.05, 0.2]), 0);
    return JSON.parse(JSON.stringify(gen.inputValue(type, 0, false) ?? null)) as unknown;
  });
}

function parseTypeText(schema: GraphQLSchema, text: string): GraphQLInputType {
  if (text.endsWith('!')) {
    return new GraphQLNonNull(parseTypeText(schema, text.slice(0, -1)) as GraphQLInputType & GraphQLNullableType);
  }
  if (text.startsWith('[')) return new GraphQLList(parseTypeText(schema, text.slice(1, -1)));
  const named = schema.getType(text);
  if (named === undefined) throw new Error(`unknown type ${text}`);
  return named as GraphQLInputType;
}

// ---------------------------------------------------------------------------
// Mutated documents
// ---------------------------------------------------------------------------

const EDIT_CHARS = [
  ...'{}()[]:$@!=|&.,"#\n\\ ',
  '...',
  '"""',
  'a',
  'Z',
  '_',
  '0',
  '9',
  '-',
  '\u0000',
  '\ud800',
  '\udc00',
  '\uffff',
  '\ufeff',
  '\u2028',
  '😀',
  'é',
];

const editString = fc.string({ unit: 'binary', maxLength: 3 });

/** `doc` with 1 to 8 random character edits (insert, delete, replace, duplicate, truncate). */
export function mutatedDocument(doc: string): fc.Arbitrary<string> {
  return fc.gen().map((g) => {
    const rng = rngOf(g);
    let text = doc;
    const edits = rng.int(1, 8);
    for (let i = 0; i < edits; i++) {
      const at = rng.int(0, text.length);
      const char = rng.chance(0.8) ? rng.pick(EDIT_CHARS) : rng.draw(editString);
      switch (rng.int(0, 5)) {
        case 0:
          text = text.slice(0, at) + char + text.slice(at);
          break;
        case 1:
          text = text.slice(0, at) + text.slice(at + 1);
          break;
        case 2:
          text = text.slice(0, at) + char + text.slice(at + 1);
          break;
        case 3: {
          const end = Math.min(text.length, at + rng.int(1, 20));
          text = text.slice(0, end) + text.slice(at, end) + text.slice(end);
          break;
        }
        case 4:
          text = text.slice(0, at) + text.slice(Math.min(text.length, at + rng.int(1, 20)));
          break;
        default:
          if (rng.chance(0.3)) text = text.slice(0, at);
      }
    }
    return text;
  });
}

// ---------------------------------------------------------------------------
// Raw strings and raw JSON text
// ---------------------------------------------------------------------------

const TOKEN_SOUP = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  'query',
  'mutation',
  'subscription',
  'fragment',
  'on',
  '...',
  '$v',
  ':',
  '@include',
  '@skip',
  'users',
  'user',
  'id',
  'nodes',
  '"x"',
  '"""',
  '#',
  '\n',
  '!',
  '=',
  '1',
  'null',
  '__typename',
  '__schema',
];

/** Anything as a document: random text, token soup, deep nesting, 100 KB strings. */
export const hostileDocument: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fuzzString },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...TOKEN_SOUP), { maxLength: 60 }).map((t) => t.join(' ')) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        unit: fc.constantFrom('a', '{', '[', '"', '\u0000', '😀', '\ud800', 'é', ' ', '{ a '),
        kb: fc.noBias(fc.integer({ min: 1, max: 100 })),
      })
      .map(({ unit, kb }) => unit.repeat(Math.ceil((kb * 1024) / unit.length))),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        depth: fc.noBias(fc.integer({ min: 10, max: 5000 })),
        shape: fc.constantFrom('selection', 'fragment', 'list', 'object'),
      })
      .map(({ depth, shape }) => deepDocument(shape, depth)),
  },
);

/** A syntactically valid document nested `depth` levels deep. */
function deepDocument(shape: 'selection' | 'fragment' | 'list' | 'object', depth: number): string {
  switch (shape) {
    case 'selection':
      // Valid syntax, invalid from the second level on (CloudStatus has no azureStatus).
      return `{ ${'azureStatus { '.repeat(depth)}enabled${' }'.repeat(depth)} }`;
    case 'fragment':
      return `{ ${'... on Query { '.repeat(depth)}__typename${' }'.repeat(depth)} }`;
    case 'list':
      return `{ user(id: ${'['.repeat(depth)}"u-0001"${']'.repeat(depth)}) { id } }`;
    case 'object':
      return `{ user(id: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}) { id } }`;
  }
}

const NUMBER_TEXTS = [
  '-0',
  '-0.0',
  '1e309',
  '-1e309',
  '1e-400',
  '4.9e-324',
  '123456789012345678901234567890',
  '2147483648',
  '-2147483649',
  '9007199254740993',
  '1.0',
  '1E2',
  '0.1',
];

const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '',
  'query',
  'input',
  'id',
  'userName',
  'email',
  'accId',
  'appPassword',
  'pageSize',
];

const jsonNumberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom(...NUMBER_TEXTS),
);
const jsonStringText = fuzzString.map((s) => JSON.stringify(s));
const jsonKeyText = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })).map((k) => JSON.stringify(k));

/**
 * JSON text (not a JS value, so `-0`, `1e309`, duplicate keys and `__proto__` keys survive
 * to the server's parser), nested up to a few levels.
 */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    jsonNumberText,
    jsonStringText,
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
  object: fc
    .array(fc.tuple(jsonKeyText, tie('value')), { maxLength: 5 })
    .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
})).value;

/** JSON text nested `depth` levels deep (arrays, objects, or `__proto__` chains). */
export const deepJsonText: fc.Arbitrary<string> = fc
  .record({
    depth: fc.noBias(fc.integer({ min: 20, max: 20_000 })),
    open: fc.constantFrom('[', '{"a":', '{"__proto__":', '{"input":'),
  })
  .map(({ depth, open }) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`);
