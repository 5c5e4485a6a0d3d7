import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord, SchemaRecord, Transaction } from '../../src/change/change.js';
import { DatabaseError, IntegrityError } from '../../src/errors.js';
import { restore } from '../../src/restore/restore.js';
import { GENESIS_HASH, sealSegment, segmentName } from '../../src/segment/index.js';
import { encodeTextFields } from '../../src/segment/text-fields-codec.js';
import { FileStore } from '../../src/store/file-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { commitTimeOf, makeTestKeys, type TestKeys, tx, writeStream } from './stream-fixture.js';

const ITEMS = { schema: 'public', name: 'items' };

const itemsSchema: SchemaRecord = {
  kind: 'schema',
  table: ITEMS,
  columns: [
    { name: 'id', type: 'integer', notNull: true },
    { name: 'name', type: 'text', notNull: false },
  ],
  primaryKey: ['id'],
};

function insert(id: number, name: string | null, snapshot = false): ChangeRecord {
  const record: ChangeRecord = {
    kind: 'change',
    table: ITEMS,
    op: 'INSERT',
    new: { id: String(id), name },
  };
  if (snapshot) record.snapshot = true;
  return record;
}
function update(id: number, name: string, oldId = id): ChangeRecord {
  return {
    kind: 'change',
    table: ITEMS,
    op: 'UPDATE',
    new: { id: String(id), name },
    old: { id: String(oldId) },
  };
}
function remove(id: number): ChangeRecord {
  return { kind: 'change', table: ITEMS, op: 'DELETE', old: { id: String(id) } };
}

let pg: TestPostgres;
let keys: TestKeys;
let root: string;
let databases = 0;

async function freshDatabase(): Promise<string> {
  databases++;
  return pg.createDatabase(`restored_${databases}`);
}

async function freshStore(): Promise<FileStore> {
  return new FileStore(await mkdtemp(join(root, 'store-')));
}

const STREAM = 'a'.repeat(32);

async function items(url: string): Promise<Array<{ id: number; name: string | null }>> {
  const database = new URL(url).pathname.slice(1);
  return pg.query('SELECT id, name FROM items ORDER BY id', [], database);
}

beforeAll(async () => {
  pg = await startPostgres();
  keys = makeTestKeys();
  root = await mkdtemp(join(tmpdir(), 'cr-restore-'));
});

afterAll(async () => {
  await pg?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('restore into PostgreSQL', () => {
  it.each([true, false])(
    'creates the table and applies snapshot, inserts, updates, deletes in stream order (segments opened in a worker thread: %s)',
    async (openInWorker) => {
      const store = await freshStore();
      await writeStream(store, {
        streamId: STREAM,
        keys,
        segments: [
          [tx(1, [itemsSchema, insert(1, 'one', true), insert(2, 'two', true)])],
          [tx(2, [insert(3, 'three'), update(1, 'uno')]), tx(3, [remove(2)])],
          [tx(4, [update(30, 'moved', 3)])],
        ],
      });
      const url = await freshDatabase();
      const report = await restore({
        store,
        identities: [keys.identity],
        verifyKey: { keyId: keys.signingKey.keyId, publicKey: keys.signingKey.publicKey },
        to: url,
        openInWorker,
      });
      expect(await items(url)).toEqual([
        { id: 1, name: 'uno' },
        { id: 30, name: 'moved' },
      ]);
      expect(report.complete).toBe(true);
      expect(report.keys.identityKeyIds).toEqual([keys.identity.keyId]);
      expect(report.streams[0]).toMatchObject({
        signerKeyIds: [keys.signingKey.keyId],
        recipientKeyIds: [keys.recipient.keyId],
        appliedThroughSequence: 3,
        transactionsApplied: 4,
        lastPosition: '4',
      });
      const table = report.tables.find((t) => t.table === '"public"."items"');
      expect(table).toMatchObject({
        snapshotRows: 2,
        inserted: 1,
        updated: 2,
        deleted: 1,
        rows: 2,
      });
      expect(table?.digest).toMatch(/^[0-9a-f]{16}$/);
    },
  );

  it('a key repeated within one COPY batch falls back to an upsert where the last change wins', async () => {
    const store = await freshStore();
    // Snapshot rows and then changes of the same keys, all in one batch (one table, one shape).
    const snapshot = Array.from({ length: 40 }, (_, i) => insert(i + 1, `snap ${i + 1}`, true));
    const again = [insert(3, 'first change'), insert(7, 'change'), insert(3, 'last change')];
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, ...snapshot, ...again])]],
    });
    const url = await freshDatabase();
    await restore({ store, identities: [keys.identity], to: url });
    const rows = await items(url);
    expect(rows).toHaveLength(40);
    expect(rows.find((row) => row.id === 3)?.name).toBe('last change');
    expect(rows.find((row) => row.id === 7)?.name).toBe('change');
    expect(rows.find((row) => row.id === 8)?.name).toBe('snap 8');
  });

  it('skips transactions delivered twice and applies a TRUNCATE', async () => {
    const store = await freshStore();
    const first = tx(1, [itemsSchema, insert(1, 'a'), insert(2, 'b')]);
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [
        [first],
        [first, tx(2, [{ kind: 'change', table: ITEMS, op: 'TRUNCATE', tables: [ITEMS] }])],
        [tx(3, [insert(5, 'after')])],
      ],
    });
    const url = await freshDatabase();
    const report = await restore({ store, identities: [keys.identity], to: url });
    expect(await items(url)).toEqual([{ id: 5, name: 'after' }]);
    expect(report.streams[0]?.transactionsSkipped).toBe(1);
  });

  it('applies a transaction split over two segments as one', async () => {
    const store = await freshStore();
    const part1 = tx(2, [insert(2, 'x')], { continues: true });
    const part2 = tx(2, [insert(3, 'y')]);
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, insert(1, 'a')]), part1], [part2]],
    });
    const url = await freshDatabase();
    const report = await restore({ store, identities: [keys.identity], to: url });
    expect((await items(url)).map((row) => row.id)).toEqual([1, 2, 3]);
    expect(report.streams[0]?.transactionsApplied).toBe(2);
  });

  it('stops at --until given as a time and as a position', async () => {
    const store = await freshStore();
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [
        [tx(1, [itemsSchema, insert(1, 'a')]), tx(2, [insert(2, 'b')])],
        [tx(3, [insert(3, 'c')])],
      ],
    });
    const byTime = await freshDatabase();
    const report = await restore({
      store,
      identities: [keys.identity],
      to: byTime,
      until: commitTimeOf(2),
    });
    expect((await items(byTime)).map((row) => row.id)).toEqual([1, 2]);
    expect(report.streams[0]?.stoppedAtUntil).toBe(true);
    expect(report.streams[0]?.lastCommitTime).toBe(commitTimeOf(2).replace('Z', '000Z'));

    const byPosition = await freshDatabase();
    await restore({ store, identities: [keys.identity], to: byPosition, until: '1' });
    expect((await items(byPosition)).map((row) => row.id)).toEqual([1]);
  });

  it('resumes an interrupted restore where it stopped', async () => {
    const store = await freshStore();
    const segments: Transaction[][] = [[tx(1, [itemsSchema, insert(1, 'a')])]];
    for (let i = 2; i <= 6; i++) segments.push([tx(i, [insert(i, `row ${i}`)])]);
    await writeStream(store, { streamId: STREAM, keys, segments });
    const url = await freshDatabase();

    // Stop after the third segment through the abort signal, as an operator's Ctrl-C would.
    const controller = new AbortController();
    const first = await restore({
      store,
      identities: [keys.identity],
      to: url,
      onProgress: (event) => {
        if (event.sequence === 3) controller.abort();
      },
      signal: controller.signal,
    });
    expect(first.interrupted).toBe(true);
    expect(first.complete).toBe(false);
    expect((await items(url)).map((row) => row.id)).toEqual([1, 2, 3]);

    const second = await restore({ store, identities: [keys.identity], to: url });
    expect(second.streams[0]?.resumedAfterSequence).toBe(3);
    expect(second.streams[0]?.segmentsRead).toBe(3);
    expect((await items(url)).map((row) => row.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a target whose tables already hold rows unless --allow-nonempty', async () => {
    const store = await freshStore();
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, insert(1, 'a')])]],
    });
    const url = await freshDatabase();
    const database = new URL(url).pathname.slice(1);
    await pg.query('CREATE TABLE items (id integer PRIMARY KEY, name text)', [], database);
    await pg.query("INSERT INTO items VALUES (9, 'foreign')", [], database);

    await expect(restore({ store, identities: [keys.identity], to: url })).rejects.toThrow(
      /already holds rows/,
    );
    expect(await items(url)).toEqual([{ id: 9, name: 'foreign' }]);
    const bookkeeping = await pg.query(
      "SELECT to_regclass('crypto_replicator_restore.progress')::text AS t",
      [],
      database,
    );
    expect(bookkeeping[0]?.t).toBeNull();
    await restore({ store, identities: [keys.identity], to: url, allowNonempty: true });
    expect((await items(url)).map((row) => row.id)).toEqual([1, 9]);
  });

  it('dry run reads everything and touches nothing', async () => {
    const store = await freshStore();
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, insert(1, 'a')])]],
    });
    const url = await freshDatabase();
    const report = await restore({ store, identities: [keys.identity], to: url, dryRun: true });
    expect(report.tables[0]).toMatchObject({ table: '"public"."items"', inserted: 1 });
    const database = new URL(url).pathname.slice(1);
    const tables = await pg.query(
      "SELECT count(*)::int AS n FROM pg_class WHERE relname IN ('items', 'progress')",
      [],
      database,
    );
    expect(tables[0]?.n).toBe(0);
  });

  it('writes decrypted changes as JSON lines with --to-jsonl', async () => {
    const store = await freshStore();
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, insert(1, 'a\tb')])], [tx(2, [remove(1)])]],
    });
    const dir = join(root, 'jsonl');
    await restore({ store, identities: [keys.identity], toJsonl: dir });
    const lines = (await readFile(join(dir, `${STREAM}.jsonl`), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { stream: STREAM, sequence: 1, position: '1', kind: 'schema' },
      { sequence: 1, kind: 'change', op: 'INSERT', new: { id: '1', name: 'a\tb' } },
      { sequence: 2, kind: 'change', op: 'DELETE', old: { id: '1' } },
    ]);
  });

  it('a run of inserts streamed with COPY, an update inside it, and a later run repeating keys', async () => {
    const store = await freshStore();
    // First run: 40 snapshot rows (one COPY); an update ends it; the second run repeats keys
    // 5 and 6 of the first, so its COPY meets existing keys and falls back to upserts.
    const first = Array.from({ length: 40 }, (_, i) => insert(i + 1, `snap ${i + 1}`, true));
    const second = Array.from({ length: 40 }, (_, i) => insert(i + 41, `new ${i + 41}`));
    second.splice(10, 0, insert(5, 'again 5'), insert(6, 'again 6'));
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, ...first]), tx(2, [update(3, 'changed 3'), ...second])]],
    });
    const url = await freshDatabase();
    const report = await restore({ store, identities: [keys.identity], to: url });
    const rows = await items(url);
    expect(rows).toHaveLength(80);
    const name = (id: number) => rows.find((row) => row.id === id)?.name;
    expect([name(3), name(5), name(6), name(7), name(80)]).toEqual([
      'changed 3',
      'again 5',
      'again 6',
      'snap 7',
      'new 80',
    ]);
    expect(report.tables[0]).toMatchObject({ snapshotRows: 40, inserted: 42, updated: 1 });
  });

  it('a value the target column refuses in a COPY: an error without row data, the group rolled back', async () => {
    const store = await freshStore();
    const rows = Array.from({ length: 60 }, (_, i) => insert(i + 1, `secret-${i + 1}`));
    await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, ...rows])]],
    });
    const url = await freshDatabase();
    const database = new URL(url).pathname.slice(1);
    // The existing table's name column takes integers only: the COPY fails on the first row.
    await pg.query('CREATE TABLE items (id integer PRIMARY KEY, name integer)', [], database);

    const failed = await restore({ store, identities: [keys.identity], to: url, keepSchema: true })
      .then(() => undefined)
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(DatabaseError);
    expect((failed as Error).message).toMatch(/apply changes to table "public"."items": .*22P02/);
    expect((failed as Error).message).not.toMatch(/secret/);
    expect(await items(url)).toEqual([]);
  });

  it('a signed segment whose payload is malformed part way: what precedes the segment is applied, none of it', async () => {
    const store = await freshStore();
    const [written] = await writeStream(store, {
      streamId: STREAM,
      keys,
      segments: [[tx(1, [itemsSchema, insert(1, 'a'), insert(2, 'b')])]],
    });
    // Segment 2 opens with a well-formed transaction, then the payload stops inside the next
    // one: only a signer that wrote it wrongly makes such a segment.
    const good = encodeTextFields([tx(2, [insert(3, 'c'), update(1, 'changed')])])!;
    const sealed = sealSegment({
      streamId: STREAM,
      sequence: 2,
      previousHash: written!.hash,
      payload: {
        encoding: 'text-fields',
        bytes: Buffer.concat([good, Buffer.from('9\0', 'utf8')]),
      },
      recipients: [keys.recipient],
      signingKey: keys.signingKey,
    });
    await store.put(segmentName(STREAM, 2), sealed.bytes);
    expect(written!.hash).not.toEqual(GENESIS_HASH);

    const url = await freshDatabase();
    // Opened on this thread, where transactions are decoded as they are applied.
    const options = { store, identities: [keys.identity], openInWorker: false };
    await expect(restore({ ...options, to: url })).rejects.toThrow(IntegrityError);
    expect(await items(url)).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);

    const fresh = await freshDatabase();
    const report = await restore({ ...options, to: fresh, upToLastIntact: true });
    expect(await items(fresh)).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
    ]);
    expect(report.streams[0]).toMatchObject({
      appliedThroughSequence: 1,
      transactionsApplied: 1,
      changesApplied: 2,
    });
    expect(report.leftOut[0]).toMatchObject({
      fromSequence: 2,
      object: segmentName(STREAM, 2),
    });
    expect(report.leftOut[0]?.reason).toMatch(/bad payload/);
  });
});
