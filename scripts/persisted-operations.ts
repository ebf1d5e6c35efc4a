/**
 * Writes the persisted-operations manifest (`persisted-operations.json`) from the operation
 * files in `operations/`: one operation per file, named like the file (`Dashboard.graphql`
 * holds `query Dashboard`), each checked against schema.graphql.
 *
 *   npm run persisted:generate   rewrite the manifest
 *   npm run persisted:check      exit 1 when the manifest is not what generate would write (CI)
 *
 * The manifest has the shape GraphQL Codegen's client-preset `persistedDocuments` writes:
 * `{ "<sha256 hex of the document text>": "<document text>" }`, keys sorted, Prettier-formatted,
 * so the same files always give the same bytes. A frontend sends the key as `documentId`.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kind, parse } from 'graphql';
import { format, resolveConfig } from 'prettier';
import { documentProblems, persistedOperationId } from '../src/persisted-operations.js';

export const OPERATIONS_DIR = fileURLToPath(new URL('../operations/', import.meta.url));
export const MANIFEST_PATH = fileURLToPath(new URL('../persisted-operations.json', import.meta.url));

export interface OperationFile {
  file: string;
  /** The file's text without surrounding blank lines: exactly what is persisted and hashed. */
  document: string;
}

/** The operation files, sorted by name, with every problem that keeps one out of the manifest. */
export function readOperations(dir = OPERATIONS_DIR): { operations: OperationFile[]; problems: string[] } {
  const operations: OperationFile[] = [];
  const problems: string[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort();
  if (files.length === 0) problems.push(`${dir} holds no .graphql files`);
  for (const file of files) {
    const document = readFileSync(`${dir}/${file}`, 'utf8').trim();
    const invalid = documentProblems(document);
    if (invalid.length > 0) {
      problems.push(...invalid.map((p) => `${file}: ${p}`));
      continue;
    }
    const ops = parse(document).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const name = ops.length === 1 ? ops[0]?.name?.value : undefined;
    if (name !== basename(file, '.graphql')) {
      problems.push(`${file}: must hold exactly one operation, named ${basename(file, '.graphql')}`);
      continue;
    }
    operations.push({ file, document });
  }
  return { operations, problems };
}

/** The manifest text generate writes for these operations. */
export async function manifestText(operations: readonly OperationFile[]): Promise<string> {
  const entries = operations.map((o) => [persistedOperationId(o.document), o.document] as const);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const json = JSON.stringify(Object.fromEntries(entries), null, 2);
  const options = (await resolveConfig(MANIFEST_PATH)) ?? {};
  return format(json, { ...options, filepath: MANIFEST_PATH });
}

async function main(check: boolean): Promise<number> {
  const { operations, problems } = readOperations();
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`operations/${p}\n`);
    return 1;
  }
  const wanted = await manifestText(operations);
  if (!check) {
    writeFileSync(MANIFEST_PATH, wanted);
    process.stdout.write(`wrote ${operations.length} operations to persisted-operations.json\n`);
    return 0;
  }
  let current = '';
  try {
    current = readFileSync(MANIFEST_PATH, 'utf8');
  } catch {
    // reported as stale below
  }
  if (current === wanted) {
    process.stdout.write(`persisted-operations.json is current (${operations.length} operations)\n`);
    return 0;
  }
  process.stderr.write(
    'persisted-operations.json does not match operations/*.graphql: run `npm run persisted:generate` and commit the result\n',
  );
  return 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.includes('--check'));
}
