import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HybridEncryptor } from '../../src/envelope/index.js';
import { restore } from '../../src/restore/restore.js';
import { FileStore } from '../../src/store/file-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { makeTestKeys, type TestKeys } from './stream-fixture.js';

let server: TestPostgres;
let keys: TestKeys;
let root: string;

const TABLE_SQL = 'CREATE TABLE audit (id integer PRIMARY KEY, who text, tags text[], doc jsonb)';

/** Put envelopes into a v1 store in the order given, named like the replicator names them. */
async function v1Store(
  dir: string,
  changes: Array<{ op: string; data: unknown; table?: string }>,
): Promise<FileStore> {
  const store = new FileStore(dir);
  const encryptor = new HybridEncryptor(keys.recipient);
  let counter = 0;
  for (const change of changes) {
    counter++;
    const envelope = encryptor.encrypt(change.data, {
      table: change.table ?? 'audit',
      operation: change.op,
    });
    const name = `envelopes/${'f'.repeat(32)}-${String(counter).padStart(20, '0')}.json`;
    await store.put(name, Buffer.from(envelope.toJson()));
  }
  return store;
}

beforeAll(async () => {
  server = await startPostgres();
  keys = makeTestKeys();
  root = await mkdtemp(join(tmpdir(), 'cr-v1-'));
});

afterAll(async () => {
  await server?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('restore of a v1 envelope store', () => {
  it('applies envelopes in timestamp order into existing tables by primary key, and says what v1 cannot guarantee', async () => {
    const store = await v1Store(join(root, 'v1'), [
      // The seed's row_to_json form and the replicator's text form of the same kind of row.
      { op: 'INSERT', data: { id: 1, who: 'ann', tags: ['x', 'y'], doc: { k: 1 } } },
      { op: 'INSERT', data: { id: '2', who: 'bob', tags: '{p,q}', doc: { k: [2] } } },
      { op: 'INSERT', data: { id: 3, who: 'cy', tags: null, doc: null } },
      { op: 'UPDATE', data: { id: 1, who: 'anne', tags: ['z'], doc: { k: 'one' } } },
      { op: 'DELETE', data: { id: 2 } },
    ]);
    const url = await server.createDatabase('v1_target');
    await server.query(TABLE_SQL, [], 'v1_target');

    const report = await restore({ store, identities: [keys.identity], to: url });
    const rows = await server.query(
      'SELECT id, who, tags, doc FROM audit ORDER BY id',
      [],
      'v1_target',
    );
    expect(rows).toEqual([
      { id: 1, who: 'anne', tags: ['z'], doc: { k: 'one' } },
      { id: 3, who: 'cy', tags: null, doc: null },
    ]);
    expect(report.format).toBe('v1');
    expect(report.keys.authenticityProven).toBe(false);
    expect(report.warnings.join('\n')).toMatch(/no completeness proof/);
    expect(report.warnings.join('\n')).toMatch(/no transaction boundaries/);
    expect(report.tables).toEqual([
      expect.objectContaining({ table: '"public"."audit"', inserted: 3, updated: 1, deleted: 1 }),
    ]);
  });

  it('refuses a v1 restore into a table that does not exist (v1 carries no schema)', async () => {
    const store = await v1Store(join(root, 'v1-missing'), [{ op: 'INSERT', data: { id: 1 } }]);
    const url = await server.createDatabase('v1_empty');
    await expect(restore({ store, identities: [keys.identity], to: url })).rejects.toThrow(
      /table "public"."audit": it does not exist in the target/,
    );
  });

  it('wrong private key on a v1 store: failed authentication naming the envelope', async () => {
    const store = await v1Store(join(root, 'v1-wrong'), [{ op: 'INSERT', data: { id: 1 } }]);
    const url = await server.createDatabase('v1_wrong');
    await server.query(TABLE_SQL, [], 'v1_wrong');
    const other = makeTestKeys();
    await expect(restore({ store, identities: [other.identity], to: url })).rejects.toThrow(
      /decrypt envelope envelopes\/f+-0+1\.json: failed authentication/,
    );
    const rows = await server.query('SELECT count(*)::int AS n FROM audit', [], 'v1_wrong');
    expect(rows[0]?.n).toBe(0);
  });

  it('applies a v1 TRUNCATE and honours --until as a time', async () => {
    const store = await v1Store(join(root, 'v1-trunc'), [
      { op: 'INSERT', data: { id: 1, who: 'a' } },
      { op: 'TRUNCATE', data: { tables: ['public.audit'] } },
      { op: 'INSERT', data: { id: 2, who: 'b' } },
    ]);
    const url = await server.createDatabase('v1_trunc');
    await server.query(TABLE_SQL, [], 'v1_trunc');
    await restore({ store, identities: [keys.identity], to: url });
    const rows = await server.query('SELECT id FROM audit', [], 'v1_trunc');
    expect(rows).toEqual([{ id: 2 }]);

    const early = await server.createDatabase('v1_early');
    await server.query(TABLE_SQL, [], 'v1_early');
    const report = await restore({
      store,
      identities: [keys.identity],
      to: early,
      until: '2000-01-01T00:00:00Z',
    });
    expect(report.tables).toEqual([]);
  });
});
