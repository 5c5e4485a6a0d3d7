import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { checkLiveness } from '../../src/observability/health.js';
import { Replicator, type ReplicatorOptions } from '../../src/pipeline/replicator.js';
import {
  checkpointName,
  openCheckpoint,
  openSegment,
  parseObjectName,
  segmentHash,
  segmentName,
} from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { openStore } from '../../src/store/open-store.js';
import { startVault } from '../../src/vault/start-vault.js';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import {
  readStoredTransactions,
  replay,
  tableRows,
  testIdentity,
  testRecipient,
} from './replication-support.js';
import { inTransaction, WORKLOAD_DDL, writeTruncate, writeWorkload } from './workload.js';

const TABLES: TableName[] = [parseTableName('accounts'), parseTableName('"Audit Log"')];
const KEYS: Record<string, string[]> = { accounts: ['id'], 'Audit Log': ['id'] };

describe('replicator with logical capture', () => {
  let server: TestPostgres;
  let url: string;
  let database: string;
  let slotName: string;
  let work: string;

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-pipeline-logical-'));
  });
  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  // Each test follows a database of its own, with its own slot, so streams do not mix.
  beforeEach(async (context) => {
    database = `db_${createHash('sha256').update(context.task.name).digest('hex').slice(0, 12)}`;
    slotName = `cr_${database}`;
    url = await server.createDatabase(database);
    await server.query(WORKLOAD_DDL, [], database);
    await installCapture({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName });
  });

  function source() {
    return createCaptureSource({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName });
  }

  async function replicator(
    stateDir: string,
    storeDir: string,
    extra: Partial<ReplicatorOptions> = {},
  ): Promise<Replicator> {
    return new Replicator({
      source: source(),
      store: new FileStore(storeDir),
      recipients: [await testRecipient()],
      stateDir,
      flushIntervalMs: 50,
      checkpointIntervalMs: 0,
      ...extra,
    });
  }

  /** Wait until the stored stream rebuilds exactly what the source tables hold. */
  async function expectStoredMatchesSource(storeDir: string): Promise<void> {
    const identity = await testIdentity();
    await waitFor(
      async () => {
        const replayed = replay(await readStoredTransactions(new FileStore(storeDir), identity));
        for (const table of TABLES) {
          const expected = await tableRows(server, database, table, KEYS[table.name]!);
          const actual = replayed.get(`"${table.schema}"."${table.name}"`) ?? new Map();
          expect(actual).toEqual(expected);
        }
        return true;
      },
      { what: 'the stored stream to match the source tables', timeoutMs: 30_000 },
    );
  }

  it('stores inserts, updates, deletes, truncate and concurrent writes that rebuild the source', async () => {
    const stateDir = join(work, 'state-main');
    const storeDir = join(work, 'store-main');
    const running = await replicator(stateDir, storeDir);
    await running.start();

    await writeWorkload(url);
    await writeTruncate(url);
    await expectStoredMatchesSource(storeDir);
    await running.stop();
    await running.finished;

    // Every operation is in the stream, and the acknowledged position is the slot's.
    const stored = await readStoredTransactions(new FileStore(storeDir), await testIdentity());
    const ops = new Set(
      stored.flatMap((tx) => tx.records.map((r) => (r.kind === 'change' ? r.op : 'SCHEMA'))),
    );
    expect([...ops].sort()).toEqual(['DELETE', 'INSERT', 'SCHEMA', 'TRUNCATE', 'UPDATE']);
    const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    expect(state.lastAcknowledgedPosition).toBe(stored.at(-1)!.position);
    expect(state.lastSequence).toBeGreaterThan(0);

    // A signed checkpoint names the head segment by its hash.
    const store = new FileStore(storeDir);
    const head = await store.get(segmentName(state.streamId, state.lastSequence));
    const checkpoint = openCheckpoint(
      Buffer.from((await store.get(checkpointName(state.streamId, state.lastSequence)))!),
      {},
    );
    expect(checkpoint.sequence).toBe(state.lastSequence);
    expect(checkpoint.headHash.equals(segmentHash(Buffer.from(head!)))).toBe(true);
  });

  it('splits a transaction larger than a segment and keeps it whole when read back', async () => {
    const stateDir = join(work, 'state-split');
    const storeDir = join(work, 'store-split');
    const running = await replicator(stateDir, storeDir, { maxSegmentBytes: 4096 });
    await running.start();

    const rows = Array.from(
      { length: 200 },
      (_, i) => `(${50_000 + i}, 'bulk ${'x'.repeat(100)}')`,
    );
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES ${rows.join(',')}`]);
    await expectStoredMatchesSource(storeDir);
    await running.stop();

    // The raw segments hold parts marked as continuing.
    const store = new FileStore(storeDir);
    const identity = await testIdentity();
    let continuing = 0;
    for await (const name of store.list('streams/')) {
      if (parseObjectName(name)?.kind !== 'segment') continue;
      const { transactions } = openSegment(Buffer.from((await store.get(name))!), {
        identities: [identity],
      });
      continuing += transactions.filter((tx) => tx.continues === true).length;
    }
    expect(continuing).toBeGreaterThan(1);
  });

  it('refuses a second replicator on the same state folder', async () => {
    const stateDir = join(work, 'state-lock');
    const first = await replicator(stateDir, join(work, 'store-lock'));
    await first.start();
    try {
      const second = await replicator(stateDir, join(work, 'store-lock'));
      await expect(second.start()).rejects.toThrow(/another replicator \(pid \d+\) is using it/);
    } finally {
      await first.stop();
    }
  });

  it('adopts segments stored before a crash lost the state write, never resealing a sequence', async () => {
    const stateDir = join(work, 'state-adopt');
    const storeDir = join(work, 'store-adopt');
    const first = await replicator(stateDir, storeDir);
    await first.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (60001, 'a')`]);
    await expectStoredMatchesSource(storeDir);
    await first.stop();

    // The state file as it was before the last segment was recorded.
    const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    const stored = state.lastSequence as number;
    const previous =
      stored > 1
        ? await new FileStore(storeDir).get(segmentName(state.streamId, stored - 1))
        : undefined;
    const rolledBack = {
      ...state,
      lastSequence: stored - 1,
      headHash:
        previous === undefined
          ? '0'.repeat(64)
          : segmentHash(Buffer.from(previous)).toString('hex'),
    };
    await writeFile(join(stateDir, 'state.json'), JSON.stringify(rolledBack));

    const second = await replicator(stateDir, storeDir);
    await second.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (60002, 'b')`]);
    await expectStoredMatchesSource(storeDir);
    await second.stop();
    const after = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    expect(after.lastSequence).toBeGreaterThan(stored);
  });

  it('keeps running through a database restart and loses nothing', async () => {
    const stateDir = join(work, 'state-restart');
    const storeDir = join(work, 'store-restart');
    const running = await replicator(stateDir, storeDir);
    await running.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (70001, 'before')`]);
    await expectStoredMatchesSource(storeDir);

    await server.crash();
    await waitFor(() => running.health().captureDisconnectedSince !== undefined, {
      what: 'the replicator to notice the database is gone',
    });
    await server.start();
    await waitFor(() => running.status().source?.connected === true, {
      what: 'the capture source to reconnect',
      timeoutMs: 60_000,
    });
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (70002, 'after')`]);
    await expectStoredMatchesSource(storeDir);
    await running.stop();
    await running.finished;
  });

  it('retries while the store is down, acknowledges nothing, turns unhealthy, and recovers', async () => {
    const port = await freePort();
    const vaultDir = join(work, 'vault');
    const stateDir = join(work, 'state-down');
    const vaultOptions = {
      store: new FileStore(vaultDir),
      writeToken: 'test-only-write-token-0123456789abcdef',
      readToken: 'test-only-read-token-0123456789abcdef',
      port,
    };
    let vault = await startVault(vaultOptions);
    const running = new Replicator({
      source: source(),
      store: await openStore(vault.url, {
        token: vaultOptions.writeToken,
        requestTimeoutMs: 2_000,
      }),
      recipients: [await testRecipient()],
      stateDir,
      flushIntervalMs: 50,
    });
    await running.start();
    const slot = async () =>
      (
        await server.query<{ lsn: string }>(
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [slotName],
        )
      )[0]!.lsn;
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (80000, 'while up')`]);
    await waitFor(() => running.status().lastAcknowledgedPosition, { what: 'a first ack' });
    const acknowledged = running.status().lastAcknowledgedPosition;

    // The vault goes away: every put fails, and nothing more may be acknowledged.
    await vault.close();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (80001, 'while down')`]);
    const thresholds = { storeStallS: 1, captureStallS: 60, readyMaxLagS: 30 };
    await waitFor(() => checkLiveness(running.health(), thresholds).ok === false, {
      what: 'liveness to fail while the store is down',
    });
    const confirmed = await slot();
    expect(running.status().lastAcknowledgedPosition).toBe(acknowledged);
    expect(running.status().pendingTransactions).toBeGreaterThan(0);

    // The vault comes back on that port: the sealed segment goes in and is acknowledged.
    vault = await startVault({ ...vaultOptions, store: new FileStore(vaultDir) });
    try {
      await waitFor(() => running.status().lastAcknowledgedPosition !== acknowledged, {
        what: 'the held-back change to be stored and acknowledged',
      });
      expect(checkLiveness(running.health(), thresholds).ok).toBe(true);
      await running.stop();
      await running.finished;
      expect(await slot()).not.toBe(confirmed);
    } finally {
      await vault.close();
    }
  });

  it('puts a journaled segment again after giving up on a write-only store, never resealing it', async () => {
    const port = await freePort();
    const vaultDir = join(work, 'vault-journal');
    const stateDir = join(work, 'state-journal');
    const vaultOptions = {
      store: new FileStore(vaultDir),
      writeToken: 'test-only-write-token-0123456789abcdef',
      readToken: 'test-only-read-token-0123456789abcdef',
      port,
    };
    const make = async () =>
      new Replicator({
        source: source(),
        store: await openStore(`http://127.0.0.1:${port}`, {
          token: vaultOptions.writeToken,
          requestTimeoutMs: 2_000,
        }),
        recipients: [await testRecipient()],
        stateDir,
        flushIntervalMs: 50,
        stopTimeoutMs: 500,
      });

    // A first segment goes in; then the vault goes away with the next one sealed.
    let vault = await startVault(vaultOptions);
    const first = await make();
    await first.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (90001, 'stored')`]);
    await waitFor(() => first.status().lastAcknowledgedPosition, { what: 'a first ack' });
    await vault.close();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (90002, 'journaled')`]);
    await waitFor(() => first.health().storeFailingSince, { what: 'a failing put' });
    await first.stop();
    await expect(first.finished).rejects.toThrow(/store still failing/);
    const journaled = await readdir(join(stateDir, 'pending'));
    expect(journaled).toHaveLength(1);
    const bytes = await readFile(join(stateDir, 'pending', journaled[0]!));

    // Next start: the journaled bytes go in as they were sealed, then capture resumes.
    vault = await startVault({ ...vaultOptions, store: new FileStore(vaultDir) });
    try {
      const second = await make();
      await second.start();
      await expectStoredMatchesSource(vaultDir);
      await second.stop();
      await second.finished;
    } finally {
      await vault.close();
    }
    const { streamId } = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    const sequence = Number(journaled[0]!.slice(0, 20));
    const stored = await new FileStore(vaultDir).get(segmentName(streamId, sequence));
    expect(Buffer.from(stored!).equals(bytes.subarray(bytes.indexOf(0x0a) + 1))).toBe(true);
    expect(await readdir(join(stateDir, 'pending'))).toEqual([]);
  });
});
