import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError, buildSchema, parse, validate } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import { readSchemaSdl } from './schema.js';

/**
 * Persisted operations (trusted documents): a manifest, `{ "<id>": "<document>" }` as GraphQL
 * Codegen's client-preset `persistedDocuments` writes it, where the id is the lower-case hex
 * SHA-256 of the document's UTF-8 text. Read and checked once at start (by loadConfig), so a
 * stale or hand-edited manifest stops the gateway with every problem listed, instead of
 * failing one frontend request at a time.
 */

/** The manifest id of a document: hex SHA-256 of its exact text (GraphQL-over-HTTP `sha256:` payload). */
export function persistedOperationId(document: string): string {
  return createHash('sha256').update(document, 'utf8').digest('hex');
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

let servedSchema: GraphQLSchema | undefined;
function schemaOf(): GraphQLSchema {
  servedSchema ??= buildSchema(readSchemaSdl());
  return servedSchema;
}

/**
 * Problems with one document: a syntax error, or what graphql-js validation against the
 * served schema says. Empty when the document is fine.
 */
export function documentProblems(document: string, schema: GraphQLSchema = schemaOf()): string[] {
  try {
    return validate(schema, parse(document)).map((e) => e.message);
  } catch (err) {
    if (err instanceof GraphQLError || (err instanceof Error && err.name === 'GraphQLError')) return [err.message];
    throw err;
  }
}

/**
 * The manifest's documents by id, or the problems that stop the gateway from using it. Each
 * problem names the entry by its id (never more of the document than graphql-js's message).
 */
export function loadPersistedOperations(
  file: string,
  schema?: GraphQLSchema,
): { operations: ReadonlyMap<string, string>; problems: string[] } {
  const operations = new Map<string, string>();
  const where = `PERSISTED_OPERATIONS_FILE ${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { operations, problems: [`${where} cannot be read`] };
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (err) {
    return { operations, problems: [`${where} is not valid JSON (${(err as Error).message})`] };
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    return { operations, problems: [`${where} must be a JSON object mapping operation ids to documents`] };
  }
  const problems: string[] = [];
  const entries = Object.entries(manifest as Record<string, unknown>);
  if (entries.length === 0) problems.push(`${where} holds no operations`);
  for (const [id, document] of entries) {
    const entry = `${where}: operation "${id}"`;
    if (typeof document !== 'string') {
      problems.push(`${entry} is not a document (a string)`);
      continue;
    }
    if (!HEX_SHA256.test(id)) problems.push(`${entry}: the id must be the lower-case hex SHA-256 of the document`);
    else if (persistedOperationId(document) !== id)
      problems.push(`${entry}: the id is not the SHA-256 of the document (regenerate the manifest)`);
    for (const problem of documentProblems(document, schema)) problems.push(`${entry}: ${problem}`);
    operations.set(id, document);
  }
  return { operations, problems };
}
