import { readFileSync } from 'node:fs';

/** The public contract, `schema.graphql` at the package root (next to `dist/` and `src/`). */
export const SCHEMA_PATH = new URL('../schema.graphql', import.meta.url);

/** The schema's SDL text: what the gateway serves and what persisted operations are checked against. */
export function readSchemaSdl(): string {
  return readFileSync(SCHEMA_PATH, 'utf8');
}
