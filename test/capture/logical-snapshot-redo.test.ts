import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { type ChangeRecord, comparePositions, type Transaction } from '../../src/change/change.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';

/** Apply transactions the way restore does: skip any position not above the last applied. */
function replay(transactions: Transaction[]): Map<string, string> {
  const rows = new Map<string, string>();
  let last: string | undefined;
  for (const tx of transactions) {
    if (last !== undefined && comparePositions(tx.position, last) <= 0) continue;
    last = tx.position;
    for (const record of tx.records) {
      if (record.kind !== 'change') continue;
      const change = record as ChangeRecord;
      if (change.op === 'TRUNCATE') rows.clear();
      else if (change.op === 'DELETE') rows.delete(change.old!.id!);
      else {
        if (change.op === 'UPDATE') rows.delete(change.old!.id!);
        rows.set(change.new!.id!, change.new!.note!);
      }
    }
  }
  return rows;
}

describe('logical capture restarted before its initial snapshot was stored', () => {
  let server: TestPostgres;
  let url: string;
  const sources: CaptureSource[] = [];
  const open = (slotName: string, resumePosition?: string) => {
    const source = createCaptureSource({
      mode: 'logical',
      databaseUrl: url,
      slotName,
      publicationName: 'redo_pub',
      resumePosition,
    });
    sources.push(source);
    return source;
  };
  const rowCount = async () => (await tableRows()).size;
  const tableRows = async () =>
    new Map(
      (
        await server.query<{ id: string; note: string }>(
          'SELECT id::text AS id, note FROM counters',
          [],
          'source',
        )
      ).map((r) => [r.id, r.note]),
    );

  beforeAll(async () => {
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    url = await server.createDatabase('source');
    await server.query('CREATE TABLE counters (id int PRIMARY KEY, note text)', [], 'source');
    await server.query(
      "INSERT INTO counters SELECT g, 'v' || g FROM generate_series(1, 4500) g",
      [],
      'source',
    );
    await installCapture({
      mode: 'logical',
      databaseUrl: url,
      tables: [{ schema: 'public', name: 'counters' }],
      publicationName: 'redo_pub',
    });
  });

  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop().catch(() => {});
  });

  afterAll(async () => {
    await server?.destroy();
  });

  /** First run: read the whole snapshot, store only `stored` of its transactions, then die. */
  async function firstRunCutShort(
    slotName: string,
    stored: number,
    ids: [number, number, number],
  ): Promise<Transaction[]> {
    const first = open(slotName);
    await first.start();
    const seen = collect(first);
    await seen.waitForChanges((await rowCount()) + 1, 'the first snapshot');
    await first.stop();
    // Changes after the first snapshot: only the old slot holds them, and nothing stored them.
    await server.query(
      `UPDATE counters SET note = 'changed ${slotName}' WHERE id IN (${ids[0]}, 4000);
       DELETE FROM counters WHERE id = ${ids[1]}; INSERT INTO counters VALUES (${ids[2]}, 'new')`,
      [],
      'source',
    );
    return seen.transactions.slice(0, stored);
  }

  it('takes the snapshot again when nothing was stored (no resume position)', async () => {
    await firstRunCutShort('redo_none', 0, [5, 6, 9001]);
    const rows = await rowCount();
    const second = open('redo_none');
    await second.start();
    const seen = collect(second);
    await seen.waitForChanges(rows, 'the snapshot taken again');
    await server.query("INSERT INTO counters VALUES (9002, 'after')", [], 'source');
    await seen.waitForChanges(rows + 2, 'the change after the restart');
    expect(replay(seen.transactions)).toEqual(await tableRows());
    await seen.acknowledgeAll();
  });

  it('restores exactly the new snapshot and later changes when part of the old one was stored', async () => {
    const stored = await firstRunCutShort('redo_part', 1, [7, 8, 9011]);
    const rows = await rowCount();
    const resume = stored.at(-1)!.position;
    const second = open('redo_part', resume);
    await second.start();
    const seen = collect(second);
    await seen.waitForChanges(rows + 1, 'the TRUNCATE and the snapshot taken again');
    await server.query("INSERT INTO counters VALUES (9003, 'after')", [], 'source');
    await seen.waitForChanges(rows + 2, 'the change after the restart');

    // The TRUNCATE comes first, and every new position is above the stored one.
    const firstChange = seen.changes()[0]!;
    expect(firstChange.op).toBe('TRUNCATE');
    expect(firstChange.tables).toEqual([{ schema: 'public', name: 'counters' }]);
    for (const tx of seen.transactions)
      expect(comparePositions(tx.position, resume)).toBeGreaterThan(0);
    const positions = seen.transactions.map((tx) => tx.position);
    for (let i = 1; i < positions.length; i++) {
      expect(comparePositions(positions[i - 1]!, positions[i]!)).toBeLessThan(0);
    }
    expect(replay([...stored, ...seen.transactions])).toEqual(await tableRows());
    await seen.acknowledgeAll();
  });

  it('takes the snapshot above the stored position when the slot was dropped before a new one was made', async () => {
    const rows = await rowCount();
    const source = open('redo_gone', '27');
    await source.start();
    const seen = collect(source);
    const changes = await seen.waitForChanges(rows + 1, 'the snapshot');
    expect(changes[0]?.op).toBe('TRUNCATE');
    for (const tx of seen.transactions)
      expect(comparePositions(tx.position, '27')).toBeGreaterThan(0);
    expect(replay(seen.transactions)).toEqual(await tableRows());
    await seen.acknowledgeAll();
  });

  it('keeps an idle slot at its start until the snapshot is acknowledged', async () => {
    const slotLsn = async (column: string) =>
      (
        await server.query<{ lsn: string }>(
          `SELECT ${column}::text AS lsn FROM pg_replication_slots s
             LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE slot_name = 'idle_snap'`,
          [],
          'source',
        )
      )[0]?.lsn ?? '0/0';
    const rows = await rowCount();
    const source = open('idle_snap');
    await source.start();
    const seen = collect(source);
    await seen.waitForChanges(rows + 1, 'the snapshot');
    await waitFor(() => source.status().connected, { what: 'the stream to start' });
    const start = await slotLsn('s.confirmed_flush_lsn');

    // WAL written elsewhere: the server sends keepalives past it; the slot must stay put.
    await server.createDatabase('elsewhere');
    await server.query(
      'CREATE TABLE filler AS SELECT g FROM generate_series(1, 20000) g',
      [],
      'elsewhere',
    );
    const end = (
      await server.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
    )[0]!.lsn;
    await waitFor(async () => comparePositions(await slotLsn('r.sent_lsn'), end) >= 0, {
      what: 'the walsender past the WAL written elsewhere',
      timeoutMs: 45_000,
    });
    expect(await slotLsn('s.confirmed_flush_lsn')).toBe(start);

    // Acknowledged: now the idle slot follows the keepalives.
    await seen.acknowledgeAll();
    await server.query('CREATE TABLE filler2 AS SELECT 1 AS g', [], 'elsewhere');
    await waitFor(async () => comparePositions(await slotLsn('s.confirmed_flush_lsn'), start) > 0, {
      what: 'the slot to move after the acknowledgement',
      timeoutMs: 45_000,
    });
  }, 120_000);

  it('resumes the slot without a new snapshot once a streamed commit was stored', async () => {
    const rows = await rowCount();
    const first = open('redo_done');
    await first.start();
    const seen = collect(first);
    await seen.waitForChanges(rows + 1, 'the snapshot');
    await server.query("INSERT INTO counters VALUES (9004, 'streamed')", [], 'source');
    await seen.waitForChanges(rows + 2, 'the streamed insert');
    const last = seen.transactions.at(-1)!.position;
    await first.acknowledge(last);
    await first.stop();
    const second = open('redo_done', last);
    await second.start();
    const again = collect(second);
    await server.query("INSERT INTO counters VALUES (9005, 'next')", [], 'source');
    const changes = await again.waitForChanges(1, 'the next insert');
    expect(changes.map((c) => `${c.op} ${c.new?.id}`)).toEqual(['INSERT 9005']);
    await again.acknowledgeAll();
  });
});
