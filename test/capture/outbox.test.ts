import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { OutboxCaptureSource } from '../../src/capture/outbox/outbox-source.js';
import { comparePositions, type SchemaRecord } from '../../src/change/change.js';
import { silentLogger } from '../../src/log/logger.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';
import { incompressible, readRows, TYPE_MATRIX_DDL, TYPE_MATRIX_INSERT } from './type-matrix.js';

describe('outbox capture', () => {
  let server: TestPostgres;
  let url: string;
  const sources: CaptureSource[] = [];
  const open = (snapshot = false) => {
    const source = createCaptureSource({ mode: 'outbox', databaseUrl: url, snapshot });
    sources.push(source);
    return source;
  };
  const sql = (text: string, params: unknown[] = []) => server.query(text, params, 'source');

  beforeAll(async () => {
    // Commits must survive server.crash(): the harness default (asynchronous commit) may
    // lose the last ones, which would be the database losing them, not capture.
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    url = await server.createDatabase('source');
    for (const ddl of TYPE_MATRIX_DDL) await sql(ddl);
    await sql(TYPE_MATRIX_INSERT);
    await sql('CREATE SCHEMA "Odd Schema"');
    await sql('CREATE TABLE "Odd Schema"."MixedCase" ("Key" int PRIMARY KEY, v int, big text)');
    await sql('INSERT INTO "Odd Schema"."MixedCase" SELECT g, 0 FROM generate_series(1, 2500) g');
    await installCapture({
      mode: 'outbox',
      databaseUrl: url,
      tables: [
        { schema: 'public', name: 'Type Matrix' },
        { schema: 'Odd Schema', name: 'MixedCase' },
      ],
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

  it('emits a snapshot of existing rows, then the changes written since', async () => {
    const source = open(true);
    await source.start();
    const seen = collect(source);
    const snapshot = await seen.waitForChanges(2503, 'the snapshot');
    expect(snapshot.every((c) => c.snapshot)).toBe(true);
    const expected = await readRows(url, '"Type Matrix"');
    for (const change of snapshot.filter((c) => c.table.name === 'Type Matrix')) {
      expect(change.new).toEqual(expected.get(change.new!.id!));
    }
    const schemas = seen.transactions[0]!.records.filter(
      (r): r is SchemaRecord => r.kind === 'schema',
    );
    expect(schemas.map((s) => s.table.name).sort()).toEqual(['MixedCase', 'Type Matrix']);

    await sql('UPDATE "Odd Schema"."MixedCase" SET v = 1 WHERE "Key" = 1');
    const changes = await seen.waitForChanges(2504);
    expect(changes.at(-1)).toMatchObject({ op: 'UPDATE', old: { Key: '1' }, new: { v: '1' } });
    await seen.acknowledgeAll();
    await source.stop();
    const left = await sql('SELECT count(*)::int AS n FROM crypto_replicator.outbox');
    expect(left[0]?.n).toBe(0);
  });

  it('carries every type of the matrix exactly, TOASTed values whole, deletes and truncate', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    const big = incompressible(50_000);
    await sql(
      `INSERT INTO "Type Matrix" SELECT id + 100, big, num, num_special, bin, arr, txt_arr, doc,
              ts, span, feeling, pos, pt, f8, f4, note, flag FROM "Type Matrix" WHERE id < 4`,
    );
    await sql('INSERT INTO "Odd Schema"."MixedCase" VALUES (9001, 0, $1)', [big]);
    await sql('UPDATE "Odd Schema"."MixedCase" SET v = 2 WHERE "Key" = 9001');
    await sql('DELETE FROM "Type Matrix" WHERE id = 103');
    await sql('TRUNCATE "Odd Schema"."MixedCase"');
    const changes = await seen.waitForChanges(7);
    const expected = await readRows(url, '"Type Matrix"');
    const inserted = changes.filter((c) => c.table.name === 'Type Matrix' && c.op === 'INSERT');
    expect(inserted).toHaveLength(3);
    for (const change of inserted.slice(0, 2)) {
      expect(change.new).toEqual(expected.get(change.new!.id!));
    }
    const update = changes.find((c) => c.op === 'UPDATE');
    expect(update?.new?.big).toBe(big);
    expect(changes.find((c) => c.op === 'DELETE')?.old).toEqual({ id: '103' });
    expect(changes.at(-1)).toMatchObject({ op: 'TRUNCATE', tables: [{ name: 'MixedCase' }] });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('orders transactions that commit late after those they depend on, not by first id', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await sql('INSERT INTO "Odd Schema"."MixedCase" VALUES (801, 0)');
    await waitFor(() => seen.changes().length === 1, { what: 'the seed row' });

    // T1 takes an early id, then T2 starts, writes, and commits; T1 commits later, and T3
    // updates the row T1 wrote: T3 must come after T1 although T1's first id is smallest.
    const t1 = new pg.Client({ connectionString: url });
    const t2 = new pg.Client({ connectionString: url });
    await t1.connect();
    await t2.connect();
    try {
      await t1.query('BEGIN');
      await t1.query('INSERT INTO "Odd Schema"."MixedCase" VALUES (802, 1)');
      await t2.query('BEGIN');
      await t2.query('INSERT INTO "Odd Schema"."MixedCase" VALUES (803, 1)');
      await t2.query('COMMIT');
      // T2 is drained before T1 commits: "everything after the last id" would now skip T1.
      await waitFor(() => seen.changes().some((c) => c.new?.Key === '803'), { what: 'T2' });
      await t1.query('UPDATE "Odd Schema"."MixedCase" SET v = v + 1 WHERE "Key" = 801');
      await t1.query('COMMIT');
      await sql('UPDATE "Odd Schema"."MixedCase" SET v = 10 WHERE "Key" = 802');
    } finally {
      await t1.end();
      await t2.end();
    }
    const changes = await seen.waitForChanges(5);
    expect(changes.filter((c) => c.new?.Key === '802')).toHaveLength(2);
    const order = changes.slice(1).map((c) => `${c.op} ${c.new?.Key}`);
    expect(order.indexOf('UPDATE 802')).toBeGreaterThan(order.indexOf('INSERT 802'));
    expect(order.indexOf('UPDATE 801')).toBeGreaterThan(order.indexOf('INSERT 803'));
    const positions = seen.transactions.map((t) => t.position);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    }
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('keeps commit order of conflicting rows under concurrent writers', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await sql('INSERT INTO "Odd Schema"."MixedCase" VALUES (5000, 0)');
    const writers = Array.from({ length: 4 }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (let i = 0; i < 25; i++) {
        await client.query('UPDATE "Odd Schema"."MixedCase" SET v = v + 1 WHERE "Key" = 5000');
      }
      await client.end();
    });
    await Promise.all(writers);
    const updates = () => seen.changes().filter((c) => c.op === 'UPDATE' && c.new?.Key === '5000');
    await waitFor(() => updates().length >= 100, { what: '100 updates' });
    // Each update read the previous committed value: the stream must count 1, 2, … 100.
    expect(updates().map((c) => Number(c.new?.v))).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('re-delivers unacknowledged transactions with the same positions after the database crashes', async () => {
    const first = open();
    await first.start();
    const seenFirst = collect(first);
    for (let i = 0; i < 3; i++)
      await sql(`INSERT INTO "Odd Schema"."MixedCase" VALUES (${700 + i}, 0)`);
    await seenFirst.waitForChanges(3);
    await first.acknowledge(seenFirst.transactions[0]!.position);

    // The server crashes; the source reconnects and keeps going without loss.
    await server.crash();
    await waitFor(() => first.status().problem !== undefined, { what: 'a problem reported' });
    await server.start();
    await sql('INSERT INTO "Odd Schema"."MixedCase" VALUES (710, 0)');
    await seenFirst.waitForChanges(4, 'the change after the restart');
    await first.stop();

    // A new source (a restarted replicator) gets everything not acknowledged, same positions.
    const second = open();
    await second.start();
    const seenSecond = collect(second);
    await seenSecond.waitForChanges(3);
    expect(seenSecond.transactions.map((t) => t.position)).toEqual(
      seenFirst.transactions.slice(1).map((t) => t.position),
    );
    await seenSecond.acknowledgeAll();
    await second.stop();
  });

  it('emits a fresh schema record when a drained row has a new column set', async () => {
    const source = open();
    await source.start();
    const seen = collect(source);
    await sql('ALTER TABLE "Odd Schema"."MixedCase" ADD COLUMN "New Col" date');
    await sql('INSERT INTO "Odd Schema"."MixedCase" VALUES (4242, 0, NULL, \'2026-12-03\')');
    await waitFor(() => seen.changes().some((c) => c.new?.Key === '4242'), { what: 'the insert' });
    const records = seen.transactions.flatMap((t) => t.records);
    const change = records.findIndex((r) => r.kind === 'change' && r.new?.Key === '4242');
    const schema = records[change - 1] as SchemaRecord;
    expect(schema.kind).toBe('schema');
    expect(schema.columns.at(-1)).toEqual({ name: 'New Col', type: 'date', notNull: false });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('captures tables whose column names match the trigger aliases (n, o)', async () => {
    await sql('CREATE TABLE "Odd Schema".aliases (n int PRIMARY KEY, o text)');
    await installCapture({
      mode: 'outbox',
      databaseUrl: url,
      tables: [{ schema: 'Odd Schema', name: 'aliases' }],
    });
    const source = open();
    await source.start();
    const seen = collect(source);
    await sql("INSERT INTO \"Odd Schema\".aliases VALUES (1, 'one'), (2, 'two')");
    await sql('DELETE FROM "Odd Schema".aliases WHERE n = 1');
    const changes = await seen.waitForChanges(3);
    expect(changes.map((c) => [c.op, c.new ?? c.old])).toEqual([
      ['INSERT', { n: '1', o: 'one' }],
      ['INSERT', { n: '2', o: 'two' }],
      ['DELETE', { n: '1' }],
    ]);
    await seen.acknowledgeAll();
    await source.stop();
  });

  const openWithGrace = (lockGraceMs: number) => {
    const source = new OutboxCaptureSource({
      databaseUrl: url,
      snapshot: false,
      logger: silentLogger,
      lockGraceMs,
    });
    sources.push(source);
    return source;
  };

  it('refuses a second drainer on the same outbox once the grace period is over', async () => {
    const first = open();
    await first.start();
    const second = openWithGrace(1_000);
    const started = Date.now();
    await expect(second.start()).rejects.toThrow(/another replicator drains this outbox/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    await first.stop();
  });

  it('starts after a SIGKILLed drainer whose backend still held the lock goes away', async () => {
    // The killed replicator's backend is modelled by a real session holding the same lock,
    // which ends a moment after the new source started trying.
    const dead = new pg.Client({ connectionString: url });
    await dead.connect();
    await dead.query(`SELECT pg_advisory_lock(hashtext('crypto_replicator.outbox'))`);
    const source = openWithGrace(15_000);
    const starting = source.start();
    await waitFor(
      async () =>
        (
          await server.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'crypto-replicator outbox'",
            [],
            'source',
          )
        )[0]?.n === '1',
      { what: 'the new source waiting for the lock' },
    );
    await dead.end();
    await starting;
    expect(source.status().connected).toBe(true);
    await source.stop();
  });
});
