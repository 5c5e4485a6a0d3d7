import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureSource } from '../../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { collect } from './collect.js';

describe('logical capture and a replication slot another process holds', () => {
  let server: TestPostgres;
  let url: string;
  const sources: CaptureSource[] = [];
  const clients: pg.Client[] = [];
  const open = (resumePosition?: string) => {
    const source = createCaptureSource({
      mode: 'logical',
      databaseUrl: url,
      slotName: 'owned_slot',
      publicationName: 'owned_pub',
      resumePosition,
    });
    sources.push(source);
    return source;
  };
  const holder = async () =>
    (
      await server.query<{ pid: number | null }>(
        "SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = 'owned_slot'",
        [],
        'source',
      )
    )[0]?.pid ?? null;

  beforeAll(async () => {
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    url = await server.createDatabase('source');
    await server.query('CREATE TABLE items (id int PRIMARY KEY)', [], 'source');
    await server.query('INSERT INTO items SELECT generate_series(1, 10)', [], 'source');
    await installCapture({
      mode: 'logical',
      databaseUrl: url,
      tables: [{ schema: 'public', name: 'items' }],
      publicationName: 'owned_pub',
    });
  });

  afterAll(async () => {
    for (const source of sources) await source.stop().catch(() => {});
    for (const client of clients) await client.end().catch(() => {});
    await server?.destroy();
  });

  it('refuses a second replicator on the same slot after a short grace, leaving the first streaming', async () => {
    const first = open();
    await first.start();
    const seen = collect(first);
    await waitFor(() => first.status().connected, { what: 'the first stream to start' });
    const pid = await holder();

    // A new stream (no stored position) on the same slot: refused, the slot kept.
    const second = open();
    const started = Date.now();
    await expect(second.start()).rejects.toThrow(
      `start logical capture: replication slot "owned_slot" is in use by another process (pid ${pid})`,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    // A stream that stored positions and resumes is refused the same way.
    await expect(open('0/3000000').start()).rejects.toThrow(/is in use by another process/);
    // A refused start leaves no connection open (it would keep the process from exiting).
    const controls = await server.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'crypto-replicator control'",
      [],
      'source',
    );
    expect(controls[0]?.n).toBe('1');

    await server.query('INSERT INTO items VALUES (11)', [], 'source');
    const changes = await seen.waitForChanges(12, 'the insert, in the first stream');
    expect(changes.at(-1)?.new).toEqual({ id: '11' });
    expect(await holder()).toBe(pid);
    await seen.acknowledgeAll();
    await first.stop();
  }, 60_000);

  it('keeps retrying a reconnect while another process holds the slot, and says so', async () => {
    const source = open('0/3000000');
    await source.start();
    collect(source);
    await waitFor(() => source.status().connected, { what: 'the stream to start' });

    // Take the slot from under it: end its walsender and start replication ourselves.
    const config = { connectionString: url, replication: 'database' } as pg.ClientConfig;
    let thief: pg.Client | undefined;
    await waitFor(
      async () => {
        const pid = await holder();
        if (pid !== null && thief === undefined) {
          await server.query('SELECT pg_terminate_backend($1)', [pid], 'source');
        }
        if (thief !== undefined || (await holder()) !== null) return thief !== undefined;
        const client = new pg.Client(config);
        client.on('error', () => {});
        await client.connect();
        clients.push(client);
        client
          .query(
            `START_REPLICATION SLOT owned_slot LOGICAL 0/0 (proto_version '1', publication_names 'owned_pub')`,
          )
          .catch(() => {});
        await waitFor(async () => (await holder()) !== null, { what: 'the slot taken' });
        thief =
          (await holder()) === (client as unknown as { processID: number }).processID
            ? client
            : undefined;
        if (thief === undefined) await client.end().catch(() => {});
        return thief !== undefined;
      },
      { what: 'the slot held by the test', timeoutMs: 30_000 },
    );
    const thiefPid = await holder();
    await waitFor(() => source.status().problem?.includes('held by another process') === true, {
      what: 'the problem reported',
    });
    expect(source.status().problem).toBe(
      `replication slot "owned_slot" is held by another process (pid ${thiefPid})`,
    );
    expect(source.status().connected).toBe(false);

    // Once the other process lets go, the source takes its own stream back.
    await server.query('SELECT pg_terminate_backend($1)', [thiefPid], 'source');
    await waitFor(() => source.status().connected, { what: 'the stream back', timeoutMs: 30_000 });
    await source.stop();
  }, 60_000);
});
