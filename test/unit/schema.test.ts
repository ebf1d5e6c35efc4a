import { readFileSync } from 'node:fs';
import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isScalarType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SCHEMA_PATH } from '../../src/schema.js';

const schema = buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));
const ours = Object.values(schema.getTypeMap()).filter(
  (t) => !t.name.startsWith('__') && !['String', 'Boolean', 'Int', 'Float', 'ID'].includes(t.name),
);

describe('schema.graphql', () => {
  it('describes every type, field, argument, input field and enum value (GraphiQL shows them)', () => {
    const missing: string[] = [];
    for (const type of ours) {
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of field.args) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields()))
          if (!field.description) missing.push(`${type.name}.${field.name}`);
      } else if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      } else if (!isScalarType(type)) {
        missing.push(`${type.name} (unexpected kind)`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('keeps root query fields nullable so one upstream failing cannot null the other', () => {
    const nonNull = Object.values(schema.getQueryType()!.getFields()).filter((f) => f.type.toString().endsWith('!'));
    expect(nonNull.map((f) => f.name)).toEqual([]);
  });
});
