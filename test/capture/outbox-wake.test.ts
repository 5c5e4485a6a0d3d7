import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCapture } from '../../src/capture/index.js';
import {
  OUTBOX_WAKE_CHANNEL,
  WAKE_LOCK_KEYS,
  WAKE_TRIGGER,
} from '../../src/capture/install-sql.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

const TABLE = { schema: 'public', name: 'Wake Me' };

/** SQL: the outbox entry carries a new row with this id (as a single row or in a chunk). */
function carriesId(id: string): string {
  return `EXISTS (SELECT 1 FROM unnest(coalesce(new_rows, ARRAY[new_row])) r
    WHERE crypto_replicator.hstore_to_json(r) ->> 'id' = '${id}')`;
}

describe('outbox wake-up', () => {
  let server: TestPostgres;
  let url: string;
  let listener: pg.Client;
  const heard: string[] = [];
  const sql = (text: string) => server.query(text, [], 'source');

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('source');
    await sql('CREATE TABLE "Wake Me" (id int PRIMARY KEY, v text)');
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: [TABLE] });
    listener = new pg.Client({ connectionString: url });
    await listener.connect();
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    await listener.query(`LISTEN ${OUTBOX_WAKE_CHANNEL}`);
    // The listener plays an idle drainer: it holds the wake lock while it waits.
    await listener.query(`SELECT pg_advisory_lock(${WAKE_LOCK_KEYS.join(', ')})`);
  });

  afterAll(async () => {
    await listener?.end().catch(() => {});
    await server?.destroy();
  });

  /**
   * Run `statement`, then a marker NOTIFY from the same session: notifications arrive in commit
   * order, so once the marker is heard every wake-up of the statement has been heard too.
   */
  async function wakeUpsOf(statement: string): Promise<number> {
    heard.length = 0;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(statement);
      await client.query(`NOTIFY ${OUTBOX_WAKE_CHANNEL}, 'marker'`);
    } finally {
      await client.end();
    }
    await waitFor(() => heard.includes('marker'), { what: 'the marker notification' });
    return heard.filter((payload) => payload !== 'marker').length;
  }

  it('sends one wake-up for each statement that changes rows, whatever the operation', async () => {
    expect(
      await wakeUpsOf(`INSERT INTO "Wake Me" SELECT g, 'a' FROM generate_series(1, 3) g`),
    ).toBe(1);
    expect(await wakeUpsOf(`UPDATE "Wake Me" SET v = 'b' WHERE id <= 2`)).toBe(1);
    expect(await wakeUpsOf('DELETE FROM "Wake Me" WHERE id = 1')).toBe(1);
    expect(await wakeUpsOf('TRUNCATE "Wake Me"')).toBe(1);
    // INSERT and DELETE write one chunk row per statement, UPDATE one row per changed row.
    const ops = await sql(
      `SELECT upper(op::text) AS op, count(*)::int AS entries,
              sum(coalesce(cardinality(new_rows), cardinality(old_rows), 1))::int AS changes
         FROM crypto_replicator.outbox GROUP BY 1 ORDER BY upper(op::text) COLLATE "C"`,
    );
    expect(ops).toEqual([
      { op: 'D', entries: 1, changes: 1 },
      { op: 'I', entries: 1, changes: 3 },
      { op: 'T', entries: 1, changes: 1 },
      { op: 'U', entries: 2, changes: 2 },
    ]);
  });

  it('sends no wake-up for an INSERT or DELETE that changes no row', async () => {
    expect(await wakeUpsOf(`INSERT INTO "Wake Me" SELECT 1, 'x' WHERE false`)).toBe(0);
    expect(await wakeUpsOf('DELETE FROM "Wake Me" WHERE id < 0')).toBe(0);
  });

  it('sends no wake-up while no drainer waits for one, and the change is still written', async () => {
    await listener.query(`SELECT pg_advisory_unlock(${WAKE_LOCK_KEYS.join(', ')})`);
    try {
      expect(await wakeUpsOf(`INSERT INTO "Wake Me" VALUES (50, 'busy')`)).toBe(0);
      expect(await wakeUpsOf(`UPDATE "Wake Me" SET v = 'still busy' WHERE id = 50`)).toBe(0);
    } finally {
      await listener.query(`SELECT pg_advisory_lock(${WAKE_LOCK_KEYS.join(', ')})`);
    }
    const rows = await sql(
      `SELECT op::text AS op FROM crypto_replicator.outbox WHERE ${carriesId('50')} ORDER BY id`,
    );
    expect(rows.map((row) => row.op)).toEqual(['i', 'U']);
  });

  it('makes a drainer about to wait first wait for a writer that skipped the wake-up', async () => {
    // A writer that looked while no drainer waited holds the lock shared until it commits.
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    const drainer = new pg.Client({ connectionString: url });
    await drainer.connect();
    await listener.query(`SELECT pg_advisory_unlock(${WAKE_LOCK_KEYS.join(', ')})`);
    try {
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO "Wake Me" VALUES (60, 'late')`);
      let locked = false;
      const taking = drainer
        .query(`SELECT pg_advisory_lock(${WAKE_LOCK_KEYS.join(', ')})`)
        .then(() => {
          locked = true;
        });
      await waitFor(
        async () =>
          (
            await sql(
              "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = 'ExclusiveLock'",
            )
          ).length === 1,
        { what: 'the drainer waiting for the wake lock' },
      );
      expect(locked).toBe(false);
      await writer.query('COMMIT');
      await taking;
      // Once the drainer holds the lock, the writer's change is committed and visible.
      const [row] = await drainer
        .query(`SELECT count(*)::int AS n FROM crypto_replicator.outbox WHERE ${carriesId('60')}`)
        .then((result) => result.rows);
      expect(row?.n).toBe(1);
    } finally {
      await writer.end();
      await drainer.end();
      await listener.query(`SELECT pg_advisory_lock(${WAKE_LOCK_KEYS.join(', ')})`);
    }
  });

  it('upgrades the every-statement wake trigger of an older install to UPDATE only', async () => {
    // What installs before this version created: one wake trigger for every operation.
    await sql(`DROP TRIGGER ${WAKE_TRIGGER} ON "Wake Me"`);
    await sql(
      `CREATE TRIGGER ${WAKE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "Wake Me"
         FOR EACH STATEMENT EXECUTE FUNCTION crypto_replicator.wake()`,
    );
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: [TABLE] });
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: [TABLE] });

    const [trigger] = await sql(
      `SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
        WHERE tgrelid = '"Wake Me"'::regclass AND tgname = '${WAKE_TRIGGER}'`,
    );
    expect(trigger?.def).toMatch(/AFTER UPDATE ON/);
    expect(trigger?.def).not.toMatch(/INSERT|DELETE|TRUNCATE/);
    // Still exactly one wake-up per statement after the upgrade (not one from each trigger).
    expect(await wakeUpsOf(`INSERT INTO "Wake Me" VALUES (100, 'y')`)).toBe(1);
  });
});
