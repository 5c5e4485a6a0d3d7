import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  comparePositions,
  qualifiedName,
  type Row,
  type TableName,
  type Transaction,
} from '../../src/change/change.js';
import {
  type Identity,
  loadIdentity,
  loadRecipient,
  type Recipient,
} from '../../src/keys/index.js';
import { openSegment, parseObjectName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import type { ObjectStore } from '../../src/store/store.js';
import type { TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

/** The test-only recovery key pair (test/fixtures/keys, never used outside tests). */
export const TEST_RECOVERY_PUB = fileURLToPath(
  new URL('../fixtures/keys/TEST-ONLY-recovery-3072.pub', import.meta.url),
);
export const TEST_RECOVERY_PEM = fileURLToPath(
  new URL('../fixtures/keys/TEST-ONLY-recovery-3072.pem', import.meta.url),
);

export async function testRecipient(): Promise<Recipient> {
  return loadRecipient(TEST_RECOVERY_PUB);
}

export async function testIdentity(): Promise<Identity> {
  return loadIdentity(TEST_RECOVERY_PEM, {});
}

/**
 * Every transaction stored in v2 segments, stream by stream in sequence order, with parts of a
 * split transaction joined again and redelivered transactions (position not greater than the
 * last one) dropped, the way restore reads a stream.
 */
export async function readStoredTransactions(
  store: ObjectStore,
  identity: Identity,
): Promise<Transaction[]> {
  const result: Transaction[] = [];
  let open: Transaction | undefined;
  let last: string | undefined;
  for await (const name of store.list('streams/')) {
    if (parseObjectName(name)?.kind !== 'segment') continue;
    const bytes = Buffer.from((await store.get(name))!);
    const { transactions } = openSegment(bytes, { identities: [identity], name });
    for (const tx of transactions) {
      // Join parts of a transaction split across segments.
      const whole: Transaction =
        open === undefined ? { ...tx } : { ...open, records: [...open.records, ...tx.records] };
      if (tx.continues === true) {
        open = whole;
        continue;
      }
      open = undefined;
      delete whole.continues;
      if (last !== undefined && comparePositions(whole.position, last) <= 0) continue;
      last = whole.position;
      result.push(whole);
    }
  }
  return result;
}

/** Table contents rebuilt from captured changes: table → primary key (JSON) → row. */
export type Replayed = Map<string, Map<string, Row>>;

/**
 * Apply captured transactions to an in-memory copy of the tables, as restore would, so the
 * result can be compared with the source database.
 */
export function replay(transactions: Transaction[]): Replayed {
  const tables: Replayed = new Map();
  const keys = new Map<string, string[]>();
  const rows = (table: TableName) => {
    const name = qualifiedName(table);
    if (!tables.has(name)) tables.set(name, new Map());
    return tables.get(name)!;
  };
  const keyOf = (table: TableName, row: Row) =>
    JSON.stringify((keys.get(qualifiedName(table)) ?? []).map((column) => row[column]));

  for (const tx of transactions) {
    for (const record of tx.records) {
      if (record.kind === 'schema') {
        keys.set(qualifiedName(record.table), record.primaryKey);
        rows(record.table);
        continue;
      }
      const target = rows(record.table);
      if (record.op === 'TRUNCATE') {
        for (const table of record.tables ?? [record.table]) rows(table).clear();
      } else if (record.op === 'DELETE') {
        target.delete(keyOf(record.table, record.old!));
      } else {
        const oldKey = record.old === undefined ? undefined : keyOf(record.table, record.old);
        const newKey = keyOf(record.table, record.new!);
        const before = target.get(oldKey ?? newKey) ?? {};
        if (oldKey !== undefined) target.delete(oldKey);
        target.set(newKey, { ...before, ...record.new });
      }
    }
  }
  return tables;
}

/** The rows of a table as PostgreSQL text, keyed like {@link replay}. */
export async function tableRows(
  server: TestPostgres,
  database: string,
  table: TableName,
  primaryKey: string[],
): Promise<Map<string, Row>> {
  const columns = await server.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0
       AND NOT attisdropped ORDER BY attnum`,
    [qualifiedName(table)],
    database,
  );
  const select = columns.map((c) => `${JSON.stringify(c.attname)}::text`).join(', ');
  const result = await server.query<Row>(
    `SELECT ${select} FROM ${qualifiedName(table)}`,
    [],
    database,
  );
  const map = new Map<string, Row>();
  for (const row of result) map.set(JSON.stringify(primaryKey.map((column) => row[column])), row);
  return map;
}

/**
 * Wait until the v2 stream in a folder store rebuilds exactly what the source tables hold
 * (tables keyed by their `id` column).
 */
export async function expectStoredMatchesSource(options: {
  server: TestPostgres;
  database: string;
  storeDir: string;
  tables: TableName[];
  timeoutMs?: number;
}): Promise<void> {
  const identity = await testIdentity();
  await waitFor(
    async () => {
      const stored = await readStoredTransactions(new FileStore(options.storeDir), identity);
      const replayed = replay(stored);
      for (const table of options.tables) {
        const expected = await tableRows(options.server, options.database, table, ['id']);
        expect(replayed.get(qualifiedName(table)) ?? new Map()).toEqual(expected);
      }
      return true;
    },
    {
      what: 'the stored stream to match the source tables',
      // NOTE: generous: every segment costs several fsyncs (spool, store, state, checkpoint),
      // which take hundreds of milliseconds each while the rest of the suite loads the disk.
      timeoutMs: options.timeoutMs ?? 90_000,
    },
  );
}
