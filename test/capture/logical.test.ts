import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import type { SchemaRecord } from '../../src/change/change.js';
import { comparePositions } from '../../src/change/change.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';
import { incompressible, readRows, TYPE_MATRIX_DDL, TYPE_MATRIX_INSERT } from './type-matrix.js';

describe('logical capture', () => {
  let server: TestPostgres;
  let url: string;
  const sources: CaptureSource[] = [];
  const open = (options: Partial<Parameters<typeof createCaptureSource>[0]> = {}) => {
    const source = createCaptureSource({
      mode: 'logical',
      databaseUrl: url,
      slotName: 'test_slot',
      publicationName: 'test_pub',
      // The first test takes the snapshot; later ones resume the slot as a stream that stored
      // its snapshot would (without a stored position a start would take the snapshot again).
      snapshot: false,
      ...options,
    });
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    // Commits must survive server.crash(): the harness default (asynchronous commit) may
    // lose the last ones, which would be the database losing them, not capture.
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    url = await server.createDatabase('source');
    for (const sql of TYPE_MATRIX_DDL) await server.query(sql, [], 'source');
    await server.query(TYPE_MATRIX_INSERT, [], 'source');
    await server.query('CREATE SCHEMA "Odd Schema"', [], 'source');
    await server.query(
      'CREATE TABLE "Odd Schema"."Odd Table" ("Key" int PRIMARY KEY, "Mixed Case" text, big text)',
      [],
      'source',
    );
    await server.query('CREATE TABLE no_key (a int, b text)', [], 'source');
    await server.query(
      'INSERT INTO "Odd Schema"."Odd Table" SELECT g, \'row \' || g FROM generate_series(1, 4500) g',
      [],
      'source',
    );
    await installCapture({
      mode: 'logical',
      databaseUrl: url,
      tables: [
        { schema: 'public', name: 'Type Matrix' },
        { schema: 'Odd Schema', name: 'Odd Table' },
        { schema: 'public', name: 'no_key' },
      ],
      publicationName: 'test_pub',
      // install creates the slot; the first test's start makes it again with its snapshot.
      slotName: 'test_slot',
    });
  });

  // A failed test must not leave its source holding the slot, lock or channel.
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop().catch(() => {});
  });

  afterAll(async () => {
    for (const source of sources) await source.stop().catch(() => {});
    await server?.destroy();
  });

  it('emits schema records and a chunked snapshot of existing rows before the stream', async () => {
    const source = open({ snapshot: true });
    await source.start();
    const seen = collect(source);
    const [truncate, ...changes] = await seen.waitForChanges(4504, 'the snapshot');
    // A TRUNCATE of every followed table goes first (see docs/CAPTURE.md).
    expect(truncate?.op).toBe('TRUNCATE');
    expect(truncate?.tables).toHaveLength(3);
    expect(changes.every((c) => c.snapshot === true && c.op === 'INSERT')).toBe(true);

    // Chunks are bounded (the cursor reads 2,000 rows at a time) and positions increase.
    expect(seen.transactions.length).toBeGreaterThanOrEqual(3);
    for (const tx of seen.transactions) expect(tx.records.length).toBeLessThanOrEqual(2_003);
    const positions = seen.transactions.map((tx) => tx.position);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    }

    // Schema records first, with format_type types, key and user-defined types.
    const schemas = seen.transactions[0]!.records.filter(
      (r): r is SchemaRecord => r.kind === 'schema',
    );
    const matrix = schemas.find((s) => s.table.name === 'Type Matrix')!;
    expect(matrix.primaryKey).toEqual(['id']);
    expect(matrix.columns.find((c) => c.name === 'num')?.type).toBe('numeric(40,0)');
    expect(matrix.types?.map((t) => `${t.kind} ${t.name}`)).toEqual([
      'enum Mood Type',
      'domain positive',
      'composite pair',
    ]);
    expect(matrix.types?.[0]?.definition).toBe("ENUM ('sad', 'ok', 'it''s fine')");

    // Snapshot values are PostgreSQL's text output, exactly.
    const expected = await readRows(url, '"Type Matrix"');
    for (const change of changes.filter((c) => c.table.name === 'Type Matrix')) {
      expect(change.new).toEqual(expected.get(change.new!.id!));
    }
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('streams inserts, updates, deletes, truncate and multi-statement transactions in commit order', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);

    await server.query(
      `BEGIN;
       INSERT INTO "Type Matrix" (id, note) VALUES (10, 'ten');
       UPDATE "Type Matrix" SET note = 'TEN' WHERE id = 10;
       DELETE FROM "Type Matrix" WHERE id = 3;
       COMMIT;`,
      [],
      'source',
    );
    await server.query('TRUNCATE no_key', [], 'source');
    const changes = await seen.waitForChanges(4);
    expect(changes.map((c) => `${c.op} ${c.table.name}`)).toEqual([
      'INSERT Type Matrix',
      'UPDATE Type Matrix',
      'DELETE Type Matrix',
      'TRUNCATE no_key',
    ]);
    expect(seen.transactions[0]!.records.filter((r) => r.kind === 'change')).toHaveLength(3);
    expect(changes[1]?.old).toEqual({ id: '10' });
    expect(changes[2]?.old).toEqual({ id: '3' });
    expect(changes[3]?.tables).toEqual([{ schema: 'public', name: 'no_key' }]);
    expect(seen.transactions[0]!.position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(seen.transactions[0]!.commitTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('carries every type of the matrix exactly as text, and the whole old row of a table without key', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await server.query(
      `INSERT INTO "Type Matrix" SELECT id + 100, big, num, num_special, bin, arr, txt_arr, doc,
              ts, span, feeling, pos, pt, f8, f4, note, flag FROM "Type Matrix" WHERE id < 4`,
      [],
      'source',
    );
    await server.query(
      "INSERT INTO no_key VALUES (1, 'x'); UPDATE no_key SET b = 'y'",
      [],
      'source',
    );
    const changes = await seen.waitForChanges(4);
    const expected = await readRows(url, '"Type Matrix"');
    const inserted = changes.filter((c) => c.table.name === 'Type Matrix');
    expect(inserted).toHaveLength(2);
    for (const change of inserted) expect(change.new).toEqual(expected.get(change.new!.id!));
    expect(inserted[0]!.new!.doc).toBe('{"k": [1, null, "x"], "n": 12345678901234567890.5}');
    const noKeyUpdate = changes.find((c) => c.table.name === 'no_key' && c.op === 'UPDATE');
    expect(noKeyUpdate?.old).toEqual({ a: '1', b: 'x' });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('lists an unchanged TOASTed value as unchanged instead of sending a placeholder', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    const big = incompressible(100_000);
    await server.query(
      'INSERT INTO "Odd Schema"."Odd Table" VALUES (9001, \'x\', $1)',
      [big],
      'source',
    );
    await server.query(
      'UPDATE "Odd Schema"."Odd Table" SET "Mixed Case" = \'y\' WHERE "Key" = 9001',
      [],
      'source',
    );
    const [insert, update] = await seen.waitForChanges(2);
    expect(insert?.new?.big).toBe(big);
    expect(update?.unchanged).toEqual(['big']);
    expect(update?.new).toEqual({ Key: '9001', 'Mixed Case': 'y' });
    expect(update?.table).toEqual({ schema: 'Odd Schema', name: 'Odd Table' });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('emits a fresh schema record before the first change after a table changes shape', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await server.query('ALTER TABLE no_key ADD COLUMN added numeric(12,2)', [], 'source');
    await server.query("INSERT INTO no_key VALUES (200, 'x', 1.5)", [], 'source');
    await waitFor(() => seen.changes().some((c) => c.new?.a === '200'), { what: 'the insert' });
    const tx = seen.transactions.find((t) =>
      t.records.some((r) => r.kind === 'change' && r.new?.a === '200'),
    )!;
    // The last schema record of the table before its change describes the new shape.
    const change = tx.records.findIndex((r) => r.kind === 'change');
    const schema = tx.records
      .slice(0, change)
      .filter((r): r is SchemaRecord => r.kind === 'schema' && r.table.name === 'no_key')
      .at(-1);
    expect(schema?.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'a integer',
      'b text',
      'added numeric(12,2)',
    ]);
    await server.query('ALTER TABLE no_key DROP COLUMN added', [], 'source');
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('re-delivers unacknowledged transactions with the same positions after a restart of the source', async () => {
    const first = open();
    await first.start();
    const seenFirst = collect(first);
    for (let i = 0; i < 3; i++) {
      await server.query(`INSERT INTO no_key VALUES (${i}, 'r')`, [], 'source');
    }
    await seenFirst.waitForChanges(3);
    await first.acknowledge(seenFirst.transactions[0]!.position);
    await first.stop();

    const second = open();
    await second.start();
    const seenSecond = collect(second);
    await seenSecond.waitForChanges(2);
    expect(seenSecond.transactions.map((t) => t.position)).toEqual(
      seenFirst.transactions.slice(1).map((t) => t.position),
    );
    await seenSecond.acknowledgeAll();
    await second.stop();
  });

  it('reconnects after the database server crashes and loses nothing', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await server.query("INSERT INTO no_key VALUES (100, 'before')", [], 'source');
    await seen.waitForChanges(1);
    await server.crash();
    await waitFor(() => source.status().problem !== undefined, { what: 'a problem reported' });
    await server.start();
    await server.query("INSERT INTO no_key VALUES (101, 'after')", [], 'source');
    const changes = await seen.waitForChanges(2, 'the change made after the restart');
    expect(changes.map((c) => c.new?.a)).toEqual(['100', '101']);
    await waitFor(() => source.status().problem === undefined, { what: 'the problem cleared' });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('moves an idle slot forward on keepalives so it does not hold back WAL of other databases', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await server.query("INSERT INTO no_key VALUES (300, 'x')", [], 'source');
    await waitFor(() => seen.changes().some((c) => c.new?.a === '300'), { what: 'the insert' });
    await seen.acknowledgeAll();
    const flushed = async () =>
      (
        await server.query<{ lsn: string }>(
          "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'test_slot'",
        )
      )[0]!.lsn;
    const acked = seen.transactions.at(-1)!.position;
    await waitFor(async () => comparePositions(await flushed(), acked) > 0, { what: 'the ack' });
    const before = await flushed();
    const other = await server.createDatabase('other');
    await server.query(
      'CREATE TABLE filler AS SELECT g FROM generate_series(1, 20000) g',
      [],
      'other',
    );
    expect(other).toContain('/other');
    await waitFor(async () => comparePositions(await flushed(), before) > 0, {
      what: 'the slot to advance past WAL written elsewhere',
      timeoutMs: 45_000,
    });
    expect(seen.changes().filter((c) => !c.snapshot)).toHaveLength(1);
    await source.stop();
  });

  it('keeps the changes made between install and the first start in the slot install made', async () => {
    await installCapture({
      mode: 'logical',
      databaseUrl: url,
      tables: [{ schema: 'public', name: 'no_key' }],
      publicationName: 'test_pub',
      slotName: 'install_slot',
    });
    await server.query("INSERT INTO no_key VALUES (41, 'before the first start')", [], 'source');
    const source = open({ slotName: 'install_slot' });
    await source.start();
    const seen = collect(source);
    const [change] = await seen.waitForChanges(1, 'the change made before the start');
    expect(change?.op).toBe('INSERT');
    expect(change?.new).toEqual({ a: '41', b: 'before the first start' });
    await seen.acknowledgeAll();
    await source.stop();
    await server.query("SELECT pg_drop_replication_slot('install_slot')", [], 'source');
  });

  it('refuses to create a new slot when the stream already stored positions from a lost one', async () => {
    const source = open({ slotName: 'never_created', resumePosition: '0/16B3748' });
    await expect(source.start()).rejects.toThrow(
      /replication slot "never_created": the slot is missing although the stream stored position 0\/16B3748/,
    );
    const slots = await server.query(
      "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'never_created'",
    );
    expect(slots).toEqual([]);
  });

  it('stops loudly when the slot was dropped while in use', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await waitFor(() => source.status().connected, { what: 'the stream to start' });
    await server.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'test_slot'`,
      [],
      'source',
    );
    await waitFor(
      async () =>
        (await server
          .query(
            `SELECT pg_drop_replication_slot('test_slot') FROM pg_replication_slots
            WHERE slot_name = 'test_slot' AND NOT active`,
            [],
            'source',
          )
          .then(
            () => true,
            () => false,
          )) &&
        (
          await server.query(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'test_slot'",
            [],
            'source',
          )
        ).length === 0,
      { what: 'the slot dropped' },
    );
    await expect(seen.done).rejects.toThrow(/replication slot "test_slot".*dropped/);
    await source.stop();
  });
});
