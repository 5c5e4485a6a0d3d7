import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';
import { incompressible, readRows, TYPE_MATRIX_DDL, TYPE_MATRIX_INSERT } from './type-matrix.js';

/** The trigger SQL of the seed's README, verbatim. */
const SEED_TRIGGER_SQL = `
-- Create notification function
CREATE OR REPLACE FUNCTION notify_audit_changes()
RETURNS TRIGGER AS $$
BEGIN
    PERFORM pg_notify('nis2_changes', 
        json_build_object(
            'table', TG_TABLE_NAME,
            'operation', TG_OP,
            'data', row_to_json(NEW)
        )::text
    );
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Apply to your tables
CREATE TRIGGER trg_audit_notify
AFTER INSERT OR UPDATE OR DELETE ON nis2_audit_log
FOR EACH ROW EXECUTE FUNCTION notify_audit_changes();
`;

describe('notify capture', () => {
  let server: TestPostgres;
  let url: string;
  let spoolRoot: string;
  const sources: CaptureSource[] = [];
  const sql = (text: string, params: unknown[] = []) => server.query(text, params, 'source');
  const open = (spoolDir: string, options: { channel?: string; spoolMaxBytes?: number } = {}) => {
    const source = createCaptureSource({
      mode: 'notify',
      databaseUrl: url,
      spoolDir,
      snapshot: false,
      ...options,
    });
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    url = await server.createDatabase('source');
    spoolRoot = await mkdtemp(join(tmpdir(), 'cr-spool-'));
    await sql(
      'CREATE TABLE nis2_audit_log (id bigint PRIMARY KEY, actor text, amount numeric, ok boolean, tags text[], meta jsonb)',
    );
    await sql(SEED_TRIGGER_SQL);
    for (const ddl of TYPE_MATRIX_DDL) await sql(ddl);
    await sql('CREATE TABLE "Big Rows" (id int PRIMARY KEY, body text)');
  });

  // A failed test must not leave its source holding the slot, lock or channel.
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop().catch(() => {});
  });

  afterAll(async () => {
    for (const source of sources) await source.stop().catch(() => {});
    await server?.destroy();
    await rm(spoolRoot, { recursive: true, force: true });
  });

  it("captures the seed's trigger payload unchanged, numbers kept digit for digit", async () => {
    const source = open(join(spoolRoot, 'seed'));
    await source.start();
    const seen = collect(source);
    await sql(
      `INSERT INTO nis2_audit_log VALUES (9007199254740993, 'zoë 👩‍👩‍👧', 12345678901234567890.123456789, true, '{"a b",NULL}', '{"x": null}')`,
    );
    await sql("UPDATE nis2_audit_log SET actor = 'bob' WHERE id = 9007199254740993");
    await sql('DELETE FROM nis2_audit_log');
    const [insert, update, remove] = await seen.waitForChanges(3);
    expect(insert).toMatchObject({
      op: 'INSERT',
      table: { schema: 'public', name: 'nis2_audit_log' },
      new: {
        id: '9007199254740993',
        actor: 'zoë 👩‍👩‍👧',
        amount: '12345678901234567890.123456789',
        ok: 't',
        tags: '{"a b",NULL}',
        meta: '{"x": null}',
      },
    });
    expect(update).toMatchObject({ op: 'UPDATE', old: { id: '9007199254740993' } });
    // The seed's trigger sends NEW (NULL) for a DELETE: nothing identifies the row.
    expect(remove?.op).toBe('DELETE');
    expect(remove?.old).toBeUndefined();
    expect(seen.transactions.map((t) => t.position)).toEqual(['1', '2', '3']);
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('identifies the deleted row when the payload carries old_data', async () => {
    await sql(`CREATE OR REPLACE FUNCTION notify_audit_changes() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('nis2_changes', json_build_object('table', TG_TABLE_NAME,
          'operation', TG_OP, 'data', row_to_json(NEW), 'old_data', row_to_json(OLD))::text);
        RETURN NEW;
      END; $$ LANGUAGE plpgsql`);
    const source = open(join(spoolRoot, 'old-data'));
    await source.start();
    const seen = collect(source);
    await sql("INSERT INTO nis2_audit_log (id, actor) VALUES (7, 'a')");
    await sql('DELETE FROM nis2_audit_log WHERE id = 7');
    const [, remove] = await seen.waitForChanges(2);
    expect(remove).toMatchObject({ op: 'DELETE', old: { id: '7' } });
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('installed trigger: exact text values, and a row over 8000 bytes goes through the outbox', async () => {
    await installCapture({
      mode: 'notify',
      databaseUrl: url,
      tables: [
        { schema: 'public', name: 'Type Matrix' },
        { schema: 'public', name: 'Big Rows' },
      ],
      channel: 'cr_test',
    });
    const source = open(join(spoolRoot, 'installed'), { channel: 'cr_test' });
    await source.start();
    const seen = collect(source);
    await sql(TYPE_MATRIX_INSERT);
    const body = incompressible(20_000);
    await sql('INSERT INTO "Big Rows" VALUES (1, $1)', [body]);
    await sql('TRUNCATE "Big Rows"');
    const changes = await seen.waitForChanges(5);
    const expected = await readRows(url, '"Type Matrix"');
    for (const change of changes.filter((c) => c.table.name === 'Type Matrix')) {
      expect(change.new).toEqual(expected.get(change.new!.id!));
    }
    // The three rows of one INSERT statement arrive as one transaction.
    expect(seen.transactions[0]?.records.filter((r) => r.kind === 'change')).toHaveLength(3);
    expect(changes[3]).toMatchObject({ op: 'INSERT', new: { id: '1', body } });
    expect(changes[4]).toMatchObject({ op: 'TRUNCATE', tables: [{ name: 'Big Rows' }] });
    const left = await sql('SELECT count(*)::int AS n FROM crypto_replicator.outbox');
    expect(left[0]?.n).toBe(0);
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('re-delivers spooled but unacknowledged changes with the same positions after a restart', async () => {
    const dir = join(spoolRoot, 'restart');
    const first = open(dir, { channel: 'cr_test' });
    await first.start();
    const seenFirst = collect(first);
    for (let i = 10; i < 13; i++) await sql(`INSERT INTO "Big Rows" VALUES (${i}, 'x')`);
    await seenFirst.waitForChanges(3);
    await first.acknowledge(seenFirst.transactions[0]!.position);
    await first.stop();

    const second = open(dir, { channel: 'cr_test' });
    await second.start();
    const seenSecond = collect(second);
    await seenSecond.waitForChanges(2);
    expect(seenSecond.transactions.map((t) => t.position)).toEqual(['2', '3']);

    // Acknowledging everything removes the spool files; positions keep counting.
    await seenSecond.acknowledgeAll();
    expect((await readdir(dir)).filter((name) => name.startsWith('spool-'))).toEqual([]);
    await sql('INSERT INTO "Big Rows" VALUES (20, \'y\')');
    await waitFor(() => seenSecond.transactions.some((t) => t.position === '4'), {
      what: 'position 4',
    });
    await seenSecond.acknowledgeAll();
    await second.stop();
  });

  it('listens again after the database server restarts', async () => {
    const source = open(join(spoolRoot, 'reconnect'), { channel: 'cr_test' });
    await source.start();
    const seen = collect(source);
    await server.crash();
    await waitFor(() => source.status().problem !== undefined, { what: 'a problem reported' });
    await server.start();
    await waitFor(() => source.status().connected && source.status().problem === undefined, {
      what: 'the source listening again',
    });
    await sql('INSERT INTO "Big Rows" VALUES (30, \'after restart\')');
    const [change] = await seen.waitForChanges(1);
    expect(change?.new?.body).toBe('after restart');
    await seen.acknowledgeAll();
    await source.stop();
  });

  it('stops listening and reports a problem when the spool is full, without dropping what it received', async () => {
    const source = open(join(spoolRoot, 'full'), { channel: 'cr_test', spoolMaxBytes: 2_000 });
    await source.start();
    const seen = collect(source);
    await sql(
      'INSERT INTO "Big Rows" SELECT g, repeat(\'z\', 500) FROM generate_series(100, 109) g',
    );
    await waitFor(() => source.status().problem?.includes('spool full'), { what: 'spool full' });
    await seen.waitForChanges(10);
    expect(source.status().connected).toBe(true);
    await seen.acknowledgeAll();
    await waitFor(() => source.status().problem === undefined, { what: 'room again' });
    await source.stop();
  });
});
