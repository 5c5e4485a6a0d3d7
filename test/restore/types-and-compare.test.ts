import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord, Row, SchemaRecord, TableName } from '../../src/change/change.js';
import { compareDatabases } from '../../src/restore/compare-databases.js';
import { restore } from '../../src/restore/restore.js';
import { FileStore } from '../../src/store/file-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { makeTestKeys, type TestKeys, tx, writeStream } from './stream-fixture.js';

const MATRIX = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
  CREATE TYPE pair AS (x integer, label text);
  CREATE TABLE matrix (
    id integer PRIMARY KEY, big bigint, huge numeric(40,0), num numeric, dbl double precision,
    flt real, txt text, bin bytea, ints integer[], texts text[], doc jsonb, js json,
    tstz timestamptz, ts timestamp, d date, t time, iv interval, flag boolean, u uuid,
    m mood, p posint, pr pair, ip inet, ch char(3), vc varchar(5)
  );
  INSERT INTO matrix VALUES
   (1, 9007199254740993, 1234567890123456789012345678901234567890, 'NaN', 'Infinity',
    '-Infinity', E'tab\\there\\nnew "line" \\\\ back é ✓', '\\x00ff10', '{1,NULL,3}',
    '{"a,b","c\\"d",NULL}', '{"k": [1, 2.5, null], "s": "x"}', '{"raw":  true}',
    '2026-12-03 17:01:02.123456+02', '2026-12-03 17:01:02.654321', '2026-12-03', '23:59:59.999999',
    '1 year 2 mons 3 days 04:05:06.789', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'happy', 42, ROW(7, 'seven'), '192.168.0.1/24', 'ab', 'abcde'),
   (2, NULL, NULL, 0.1, -0.0, 1.5e-30, '', '\\x', '{}', '{}', 'null', 'null',
    NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  INSERT INTO matrix (id, txt, doc)
    SELECT g, E'row\\t' || g || E'\\n\\\\', jsonb_build_object('g', g) FROM generate_series(3, 102) g;
  CREATE TABLE log_lines (at integer, line text);
  INSERT INTO log_lines VALUES (1, 'a'), (1, 'a'), (2, 'b');`;

let server: TestPostgres;
let keys: TestKeys;
let root: string;
let sourceUrl: string;

/** Read a table of the source as the change model carries it: every value as its text form. */
async function readAsChanges(table: TableName): Promise<{ schema: SchemaRecord; rows: Row[] }> {
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  try {
    const columns = await client.query<{ name: string; type: string; notnull: boolean }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
         FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum`,
      [table.name],
    );
    const list = columns.rows.map((c) => `"${c.name}"::text AS "${c.name}"`).join(', ');
    const rows = await client.query<Row>(`SELECT ${list} FROM ${table.name} ORDER BY 1`);
    const schema: SchemaRecord = {
      kind: 'schema',
      table,
      columns: columns.rows.map((c) => ({ name: c.name, type: c.type, notNull: c.notnull })),
      primaryKey: table.name === 'matrix' ? ['id'] : [],
      types:
        table.name === 'matrix'
          ? [
              {
                schema: 'public',
                name: 'mood',
                kind: 'enum',
                definition: "ENUM ('sad', 'ok', 'happy')",
              },
              {
                schema: 'public',
                name: 'posint',
                kind: 'domain',
                definition: 'integer CHECK (VALUE > 0)',
              },
              {
                schema: 'public',
                name: 'pair',
                kind: 'composite',
                definition: '(x integer, label text)',
              },
            ]
          : [],
    };
    return { schema, rows: rows.rows };
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startPostgres();
  keys = makeTestKeys();
  root = await mkdtemp(join(tmpdir(), 'cr-types-'));
  sourceUrl = await server.createDatabase('source');
  await server.query(MATRIX, [], 'source');
});

afterAll(async () => {
  await server?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('values round-trip as PostgreSQL text', () => {
  it('restores every type of the matrix exactly, through COPY and upserts, and compare finds them equal', async () => {
    const matrix = await readAsChanges({ schema: 'public', name: 'matrix' });
    const logs = await readAsChanges({ schema: 'public', name: 'log_lines' });
    const inserts = (table: TableName, rows: Row[]): ChangeRecord[] =>
      rows.map((row) => ({ kind: 'change', table, op: 'INSERT', new: row }));
    const store = new FileStore(join(root, 'store'));
    await writeStream(store, {
      streamId: 'd'.repeat(32),
      keys,
      segments: [
        [tx(1, [matrix.schema, logs.schema, ...inserts(matrix.schema.table, matrix.rows)])],
        // Row 1 again as an update (an upsert of the same values), and the log rows.
        [
          tx(2, [
            {
              kind: 'change',
              table: matrix.schema.table,
              op: 'UPDATE',
              new: matrix.rows[0]!,
              old: { id: '1' },
            },
          ]),
        ],
        [tx(3, inserts(logs.schema.table, logs.rows))],
      ],
    });
    const target = await server.createDatabase('matrix_target');
    const report = await restore({ store, identities: [keys.identity], to: target });
    expect(report.warnings.some((w) => w.includes('"public"."log_lines" has no primary key'))).toBe(
      true,
    );

    const compared = await compareDatabases({ source: sourceUrl, target });
    expect(compared.tables.map((t) => [t.table, t.equal])).toEqual([
      ['"public"."log_lines"', true],
      ['"public"."matrix"', true],
    ]);
    expect(compared.equal).toBe(true);
    const matrixDigest = report.tables.find((t) => t.table === '"public"."matrix"')?.digest;
    expect(matrixDigest).toBe(compared.tables[1]?.source?.digest);
  });

  it('applies updates and deletes to a table without a primary key by its full old row', async () => {
    const table = { schema: 'public', name: 'notes' };
    const schema: SchemaRecord = {
      kind: 'schema',
      table,
      columns: [{ name: 'line', type: 'text', notNull: false }],
      primaryKey: [],
    };
    const store = new FileStore(join(root, 'nokey'));
    await writeStream(store, {
      streamId: 'e'.repeat(32),
      keys,
      segments: [
        [
          tx(1, [
            schema,
            { kind: 'change', table, op: 'INSERT', new: { line: 'a' } },
            { kind: 'change', table, op: 'INSERT', new: { line: 'a' } },
            { kind: 'change', table, op: 'INSERT', new: { line: 'b' } },
          ]),
          tx(2, [{ kind: 'change', table, op: 'UPDATE', old: { line: 'a' }, new: { line: 'c' } }]),
          tx(3, [{ kind: 'change', table, op: 'DELETE', old: { line: 'b' } }]),
        ],
      ],
    });
    const target = await server.createDatabase('nokey_target');
    await restore({ store, identities: [keys.identity], to: target });
    const rows = await server.query('SELECT line FROM notes ORDER BY line', [], 'nokey_target');
    expect(rows.map((r) => r.line)).toEqual(['a', 'c']);
  });
});

describe('compare', () => {
  it('finds a changed row, a missing row and a missing table, naming the tables', async () => {
    const copy = await server.createDatabase('copy');
    await server.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b');
       CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1);`,
      [],
      'copy',
    );
    const other = await server.createDatabase('other');
    await server.query(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (2, 'b'), (1, 'a');
       CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1);`,
      [],
      'other',
    );
    const same = await compareDatabases({ source: copy, target: other });
    expect(same.equal).toBe(true);

    await server.query("UPDATE t SET v = 'B' WHERE id = 2; DROP TABLE u", [], 'other');
    const changed = await compareDatabases({ source: copy, target: other });
    expect(changed.equal).toBe(false);
    expect(changed.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual([
      '"public"."t"',
      '"public"."u"',
    ]);
    expect(changed.tables[0]?.source?.rows).toBe(changed.tables[0]?.target?.rows);
    expect(changed.tables[1]?.target).toBeUndefined();

    // A duplicated row changes the digest (a sum, not an XOR).
    await server.query('CREATE TABLE dup (v int); INSERT INTO dup VALUES (1)', [], 'copy');
    await server.query(
      'CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (1), (1)',
      [],
      'other',
    );
    const dup = await compareDatabases({
      source: copy,
      target: other,
      tables: [{ schema: 'public', name: 'dup' }],
    });
    expect(dup.tables[0]?.source?.digest).not.toBe(dup.tables[0]?.target?.digest);
  });
});
