import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPersistedOperations, persistedOperationId } from '../../src/persisted-operations.js';
import { MANIFEST_PATH, manifestText, readOperations } from '../../scripts/persisted-operations.js';

const dir = mkdtempSync(join(tmpdir(), 'persisted-unit-'));
let n = 0;
/** Writes `text` to a fresh file and returns its path. */
function file(text: string): string {
  const path = join(dir, `manifest-${++n}.json`);
  writeFileSync(path, text);
  return path;
}
const manifest = (entries: Record<string, unknown>) => file(JSON.stringify(entries));

const GOOD = 'query Status {\n  azureStatus {\n    state\n  }\n}';

describe('loadPersistedOperations', () => {
  it('loads documents by the hex SHA-256 of their text', () => {
    const { operations, problems } = loadPersistedOperations(manifest({ [persistedOperationId(GOOD)]: GOOD }));
    expect(problems).toEqual([]);
    expect([...operations]).toEqual([[persistedOperationId(GOOD), GOOD]]);
    // The GraphQL-over-HTTP appendix's example: the hash of the exact source text.
    expect(persistedOperationId('query($id:ID!){user(id:$id){name}}')).toBe(
      '71f7dc5758652baac68e4a10c50be732b741c892ade2883a99358f52b555286b',
    );
  });

  it('refuses a missing file, bad JSON, and JSON that is not an object of documents', () => {
    const missing = join(dir, 'nope.json');
    expect(loadPersistedOperations(missing).problems).toEqual([`PERSISTED_OPERATIONS_FILE ${missing} cannot be read`]);
    const bad = file('{"a": ');
    expect(loadPersistedOperations(bad).problems).toEqual([
      expect.stringMatching(new RegExp(`^PERSISTED_OPERATIONS_FILE ${bad} is not valid JSON`)),
    ]);
    const list = file('["query { x }"]');
    expect(loadPersistedOperations(list).problems).toEqual([
      `PERSISTED_OPERATIONS_FILE ${list} must be a JSON object mapping operation ids to documents`,
    ]);
    expect(loadPersistedOperations(manifest({})).problems).toEqual([expect.stringMatching(/holds no operations$/)]);
  });

  it('lists every bad entry at once: wrong ids, syntax errors, documents the schema does not accept', () => {
    const unparsable = 'query Broken {';
    const invalid = '{ azureStatus { nope } }';
    const path = manifest({
      [persistedOperationId(GOOD)]: GOOD,
      [persistedOperationId('something else')]: GOOD,
      'not-a-hash': GOOD,
      [persistedOperationId(unparsable)]: unparsable,
      [persistedOperationId(invalid)]: invalid,
      [persistedOperationId('x')]: 42,
    });
    const where = `PERSISTED_OPERATIONS_FILE ${path}: operation`;
    expect(loadPersistedOperations(path).problems).toEqual([
      `${where} "${persistedOperationId('something else')}": the id is not the SHA-256 of the document (regenerate the manifest)`,
      `${where} "not-a-hash": the id must be the lower-case hex SHA-256 of the document`,
      `${where} "${persistedOperationId(unparsable)}": Syntax Error: Expected Name, found <EOF>.`,
      `${where} "${persistedOperationId(invalid)}": Cannot query field "nope" on type "CloudStatus".`,
      `${where} "${persistedOperationId('x')}" is not a document (a string)`,
    ]);
  });
});

describe('the shipped manifest', () => {
  it('is what `npm run persisted:generate` writes from operations/ (persisted:check in CI)', async () => {
    const { operations, problems } = readOperations();
    expect(problems).toEqual([]);
    expect(readFileSync(MANIFEST_PATH, 'utf8')).toBe(await manifestText(operations));
  });

  it('loads without problems', () => {
    const { operations, problems } = loadPersistedOperations(MANIFEST_PATH);
    expect(problems).toEqual([]);
    expect(operations.size).toBe(readOperations().operations.length);
  });
});
