import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import {
  FAST_ROW_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_ROWS,
} from '../../src/capture/outbox/outbox-chunks.js';
import {
  DRAIN_WINDOW_ROWS,
  drainWindowRows,
  stampPending,
} from '../../src/capture/outbox/outbox-drain.js';
import { createLogger } from '../../src/log/logger.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { collect } from './collect.js';

const TABLE = { schema: 'public', name: 'items' };
const DDL = 'CREATE TABLE items (id int PRIMARY KEY, v text)';
const MIB = 1024 * 1024;

/**
 * The outbox as installs before chunk rows made it: one row per changed row, written by a row
 * trigger. Kept here verbatim as the shape an upgrade starts from.
 */
const EARLIER_OUTBOX = [
  'CREATE SCHEMA crypto_replicator',
  'CREATE EXTENSION hstore WITH SCHEMA crypto_replicator',
  `CREATE TABLE crypto_replicator.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    table_schema text NOT NULL, table_name text NOT NULL, op "char" NOT NULL,
    new_row crypto_replicator.hstore, old_row crypto_replicator.hstore,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(), position bigint)`,
  'CREATE SEQUENCE crypto_replicator.drain_position',
  'CREATE TABLE crypto_replicator.state (name text PRIMARY KEY, value text NOT NULL)',
  `CREATE FUNCTION crypto_replicator.capture_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    INSERT INTO crypto_replicator.outbox (table_schema, table_name, op, new_row, old_row)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, left(TG_OP, 1)::"char",
            CASE WHEN TG_OP <> 'DELETE' THEN crypto_replicator.hstore(NEW) END,
            CASE WHEN TG_OP <> 'INSERT' THEN crypto_replicator.hstore(OLD) END);
    RETURN NULL;
  END $fn$`,
  `CREATE TRIGGER crypto_replicator_capture AFTER INSERT OR UPDATE OR DELETE ON items
    FOR EACH ROW EXECUTE FUNCTION crypto_replicator.capture_row()`,
];

describe('outbox chunk rows', () => {
  let server: TestPostgres;
  const sources: CaptureSource[] = [];
  const open = (db: string) => {
    const source = createCaptureSource({
      mode: 'outbox',
      databaseUrl: server.url(db),
      snapshot: false,
    });
    sources.push(source);
    return source;
  };
  /** Entries waiting in the outbox: op letter and the number of changes each carries. */
  const entries = async (db: string) =>
    (
      await server.query<{ op: string; n: number }>(
        `SELECT op::text AS op, coalesce(cardinality(new_rows), cardinality(old_rows), 1) AS n
           FROM crypto_replicator.outbox ORDER BY id`,
        [],
        db,
      )
    ).map((row) => `${row.op}${row.n}`);

  /** Empty the table and the outbox (the DELETE's own chunk rows too) for the next test. */
  const clear = async (db: string) => {
    await server.query('DELETE FROM items', [], db);
    await server.query('DELETE FROM crypto_replicator.outbox', [], db);
  };

  beforeAll(async () => {
    server = await startPostgres();
    for (const db of ['chunks', 'stamp']) {
      await server.createDatabase(db);
      await server.query(DDL, [], db);
      await installCapture({ mode: 'outbox', databaseUrl: server.url(db), tables: [TABLE] });
    }
  });

  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop().catch(() => {});
  });

  afterAll(async () => {
    await server?.destroy();
  });

  it('cuts a statement of 2,500 rows into chunks of 1,000 and emits them in statement order', async () => {
    expect(MAX_CHUNK_ROWS).toBe(1_000);
    const writer = new pg.Client({ connectionString: server.url('chunks') });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO items SELECT g, 'v' || g FROM generate_series(2500, 1, -1) g`,
      );
      await writer.query('DELETE FROM items WHERE id <= 1200');
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    expect(await entries('chunks')).toEqual(['i1000', 'i1000', 'i500', 'd1000', 'd200']);

    const source = open('chunks');
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(3700);
    expect(seen.transactions).toHaveLength(1);
    const inserts = changes.slice(0, 2500);
    expect(inserts.every((c) => c.op === 'INSERT')).toBe(true);
    // The statement wrote ids 2500 down to 1: the stream keeps that order across chunks.
    expect(inserts.map((c) => Number(c.new?.id))).toEqual(
      Array.from({ length: 2500 }, (_, i) => 2500 - i),
    );
    expect(inserts[0]?.new).toEqual({ id: '2500', v: 'v2500' });
    const deletes = changes.slice(2500);
    expect(deletes.every((c) => c.op === 'DELETE')).toBe(true);
    expect(deletes.map((c) => Number(c.old?.id)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 1200 }, (_, i) => i + 1),
    );
    await seen.acknowledgeAll();
    await source.stop();
    expect(await entries('chunks')).toEqual([]);
  });

  it('cuts a statement of large rows by bytes, so no array nears the 1 GB value limit', async () => {
    // Three rows of 25 MiB: two fit under MAX_CHUNK_BYTES (64 MiB), the third starts a chunk.
    expect(MAX_CHUNK_BYTES).toBe(64 * MIB);
    await server.query(
      `INSERT INTO items SELECT g, repeat(chr(64 + g), ${25 * MIB}) FROM generate_series(1, 3) g`,
      [],
      'chunks',
    );
    expect(await entries('chunks')).toEqual(['i2', 'i1']);

    const source = open('chunks');
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(3);
    expect(changes.map((c) => c.new?.id)).toEqual(['1', '2', '3']);
    expect(changes.map((c) => c.new?.v?.length)).toEqual([25 * MIB, 25 * MIB, 25 * MIB]);
    expect(changes.map((c) => c.new?.v?.slice(0, 1))).toEqual(['A', 'B', 'C']);
    await seen.acknowledgeAll();
    await source.stop();
    await clear('chunks');
  });

  it('keeps every row of a small statement that holds one row too large for the one-statement path', async () => {
    const large = FAST_ROW_BYTES + 1;
    await server.query(
      `INSERT INTO items VALUES (1, 'a'), (2, repeat('b', ${large})), (3, 'c')`,
      [],
      'chunks',
    );
    expect(await entries('chunks')).toEqual(['i3']);
    const source = open('chunks');
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(3);
    expect(changes.map((c) => c.new?.v?.length)).toEqual([1, large, 1]);
    await seen.acknowledgeAll();
    await source.stop();
    await clear('chunks');
  });

  it('counts the changes a chunk carries, not outbox rows, against the drain round budget', async () => {
    for (let t = 0; t < 3; t++) {
      await server.query(
        `INSERT INTO items SELECT g, 'x' FROM generate_series(${t * 600 + 1}, ${t * 600 + 600}) g`,
        [],
        'stamp',
      );
    }
    const client = new pg.Client({ connectionString: server.url('stamp') });
    await client.connect();
    try {
      // 600 + 600 passes a budget of 1,000: one transaction per round (three outbox rows
      // would all fit if rows were counted).
      expect(await stampPending(client, 1_000)).toBe(1);
      expect(await stampPending(client, 1_000)).toBe(1);
      expect(await stampPending(client, 1_000)).toBe(1);
      expect(await stampPending(client, 1_000)).toBe(0);
    } finally {
      await client.end();
    }
  });

  describe('a drain round looks at a window of the oldest waiting rows', () => {
    /**
     * Run `steps` (each one statement on a named session: 'a' or 'b'), each session in its own
     * transaction, committed by 'commit a' or 'commit b'. Returns each session's xid by name.
     */
    const interleave = async (steps: string[]): Promise<Record<string, string>> => {
      const clients: Record<string, pg.Client> = {};
      const xids: Record<string, string> = {};
      try {
        for (const step of steps) {
          const [verb, name] = step.split(' ') as [string, string];
          if (clients[name] === undefined) {
            clients[name] = new pg.Client({ connectionString: server.url('stamp') });
            await clients[name].connect();
            await clients[name].query('BEGIN');
            xids[name] = (
              await clients[name].query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')
            ).rows[0]!.x;
          }
          if (verb === 'commit') {
            await clients[name].query('COMMIT');
          } else {
            await clients[name].query('INSERT INTO items VALUES ($1, $2)', [Number(verb), name]);
          }
        }
      } finally {
        for (const client of Object.values(clients)) await client.end();
      }
      return xids;
    };
    /** Transactions stamped so far, in position order. */
    const stampedOrder = async (xids: Record<string, string>) => {
      const byXid = Object.fromEntries(Object.entries(xids).map(([name, xid]) => [xid, name]));
      const rows = await server.query<{ xid: string }>(
        `SELECT xid::text FROM crypto_replicator.outbox WHERE position IS NOT NULL
          GROUP BY xid ORDER BY min(position)`,
        [],
        'stamp',
      );
      return rows.map((row) => byXid[row.xid]);
    };
    const withClient = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = new pg.Client({ connectionString: server.url('stamp') });
      await client.connect();
      try {
        return await work(client);
      } finally {
        await client.end();
      }
    };

    beforeEach(async () => {
      await server.query('DELETE FROM items', [], 'stamp');
      await server.query('DELETE FROM crypto_replicator.outbox', [], 'stamp');
    });

    it('leaves a transaction with rows beyond the window for a later round, order kept', async () => {
      // Waiting rows by id: a, b, c, a (a is open while b and c commit).
      const xids = await interleave([
        '1 a',
        '2 b',
        'commit b',
        '3 c',
        'commit c',
        '4 a',
        'commit a',
      ]);
      await withClient(async (client) => {
        // A window of two rows sees a and b; a has a row further on, so only b is whole.
        expect(await stampPending(client, 1_000, 2)).toBe(1);
        expect(await stampedOrder(xids)).toEqual(['b']);
        expect(await stampPending(client, 1_000, 2)).toBe(1);
        expect(await stampedOrder(xids)).toEqual(['b', 'c']);
        expect(await stampPending(client, 1_000, 2)).toBe(1);
        expect(await stampPending(client, 1_000, 2)).toBe(0);
      });
      // The same order a round over the whole backlog gives: by each transaction's last id.
      expect(await stampedOrder(xids)).toEqual(['b', 'c', 'a']);
    });

    it('reads the whole backlog when no transaction fits in the window', async () => {
      // Waiting rows by id: a, b, b, b, a. A window of two rows holds no whole transaction.
      const xids = await interleave(['1 a', '2 b', '3 b', '4 b', 'commit b', '5 a', 'commit a']);
      await withClient(async (client) => {
        expect(await stampPending(client, 1_000, 2)).toBe(2);
        expect(await stampPending(client, 1_000, 2)).toBe(0);
      });
      expect(await stampedOrder(xids)).toEqual(['b', 'a']);
    });

    it('skips a transaction still open: it is not visible, and those after it go on', async () => {
      const open = new pg.Client({ connectionString: server.url('stamp') });
      await open.connect();
      try {
        await open.query('BEGIN');
        await open.query(`INSERT INTO items VALUES (1, 'open')`);
        const xids = await interleave(['2 b', 'commit b', '3 c', 'commit c']);
        await withClient(async (client) => {
          expect(await stampPending(client, 1_000, 1)).toBe(1);
          expect(await stampPending(client, 1_000, 1)).toBe(1);
          expect(await stampPending(client, 1_000, 1)).toBe(0);
        });
        expect(await stampedOrder(xids)).toEqual(['b', 'c']);
        await open.query('COMMIT');
      } finally {
        await open.end();
      }
    });
  });

  it('drains an outbox installed before the waiting-row indexes, says so, and install adds them', async () => {
    await server.createDatabase('noindex');
    await server.query(DDL, [], 'noindex');
    await installCapture({ mode: 'outbox', databaseUrl: server.url('noindex'), tables: [TABLE] });
    await server.query('DROP INDEX crypto_replicator.outbox_waiting', [], 'noindex');
    await server.query(`INSERT INTO items VALUES (1, 'a'), (2, 'b')`, [], 'noindex');
    await server.query(`UPDATE items SET v = 'c' WHERE id = 1`, [], 'noindex');
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: { write: (line) => lines.push(line) },
    });
    const source = createCaptureSource({
      mode: 'outbox',
      databaseUrl: server.url('noindex'),
      snapshot: false,
      logger,
    });
    sources.push(source);
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(3);
    expect(changes.map((c) => `${c.op} ${c.new?.v}`)).toEqual(['INSERT a', 'INSERT b', 'UPDATE c']);
    await seen.acknowledgeAll();
    await source.stop();
    expect(lines.map((line) => JSON.parse(line).msg)).toContain(
      'the outbox lacks the indexes on waiting rows: each drain round reads the whole backlog',
    );

    const client = new pg.Client({ connectionString: server.url('noindex') });
    await client.connect();
    try {
      expect(await drainWindowRows(client)).toBe(0);
      await installCapture({ mode: 'outbox', databaseUrl: server.url('noindex'), tables: [TABLE] });
      expect(await drainWindowRows(client)).toBe(DRAIN_WINDOW_ROWS);
    } finally {
      await client.end();
    }
  });

  it('upgrades an outbox of single-row entries: nothing waiting in it is lost, order kept', async () => {
    await server.createDatabase('upgrade');
    await server.query(DDL, [], 'upgrade');
    for (const statement of EARLIER_OUTBOX) await server.query(statement, [], 'upgrade');
    await server.query(`INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`, [], 'upgrade');
    await server.query('DELETE FROM items WHERE id = 2', [], 'upgrade');
    const before = await server.query<{ op: string }>(
      'SELECT op::text AS op FROM crypto_replicator.outbox ORDER BY id',
      [],
      'upgrade',
    );
    expect(before.map((row) => row.op)).toEqual(['I', 'I', 'I', 'D']);

    // Before install runs again, a start refuses the old outbox instead of misreading it.
    await expect(open('upgrade').start()).rejects.toThrow(
      'start outbox capture: the outbox was installed by an earlier version',
    );

    const url = server.url('upgrade');
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: [TABLE] });
    await server.query(`INSERT INTO items VALUES (4, 'd'), (5, 'e')`, [], 'upgrade');
    await server.query(`UPDATE items SET v = 'A' WHERE id = 1`, [], 'upgrade');
    expect(await entries('upgrade')).toEqual(['I1', 'I1', 'I1', 'D1', 'i2', 'U1']);

    const source = open('upgrade');
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(7);
    expect(changes.map((c) => `${c.op} ${c.new?.id ?? c.old?.id}`)).toEqual([
      'INSERT 1',
      'INSERT 2',
      'INSERT 3',
      'DELETE 2',
      'INSERT 4',
      'INSERT 5',
      'UPDATE 1',
    ]);
    expect(changes[0]?.new).toEqual({ id: '1', v: 'a' });
    expect(changes[4]?.new).toEqual({ id: '4', v: 'd' });
    await seen.acknowledgeAll();
    await source.stop();
    expect(await entries('upgrade')).toEqual([]);
  });

  it('a table moved from outbox to notify mode: captured once, and the chunk rows left drained', async () => {
    const db = 'switched';
    await server.createDatabase(db);
    await server.query(DDL, [], db);
    await installCapture({ mode: 'outbox', databaseUrl: server.url(db), tables: [TABLE] });
    await server.query(`INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`, [], db);
    expect(await entries(db)).toEqual(['i3']);

    // Installing notify mode over it leaves only notify mode's triggers on the table.
    await installCapture({ mode: 'notify', databaseUrl: server.url(db), tables: [TABLE] });
    const triggers = await server.query<{ name: string }>(
      `SELECT tgname AS name FROM pg_trigger
        WHERE tgrelid = 'items'::regclass AND NOT tgisinternal ORDER BY 1`,
      [],
      db,
    );
    expect(triggers.map((t) => t.name)).toEqual([
      'crypto_replicator_capture',
      'crypto_replicator_truncate',
    ]);

    const spoolDir = await mkdtemp(join(tmpdir(), 'cr-switched-'));
    try {
      const source = createCaptureSource({
        mode: 'notify',
        databaseUrl: server.url(db),
        spoolDir,
        snapshot: false,
      });
      sources.push(source);
      await source.start();
      const seen = collect(source);
      // The chunk row outbox mode wrote, expanded in statement order.
      const drained = await seen.waitForChanges(3);
      expect(drained.map((c) => [c.op, c.new?.id])).toEqual([
        ['INSERT', '1'],
        ['INSERT', '2'],
        ['INSERT', '3'],
      ]);
      await server.query(`INSERT INTO items VALUES (4, 'd'), (5, 'e')`, [], db);
      const all = await seen.waitForChanges(5);
      expect(all.map((c) => c.new?.id)).toEqual(['1', '2', '3', '4', '5']);
      expect(await entries(db)).toEqual([]);
      await source.stop();
      expect(seen.changes()).toHaveLength(5);
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });
});
