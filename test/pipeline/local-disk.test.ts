import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { Replicator } from '../../src/pipeline/replicator.js';
import { FileStore } from '../../src/store/file-store.js';
import { mountSmallDisk, type SmallDisk } from '../support/faults/full-disk.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import {
  readStoredTransactions,
  replay,
  tableRows,
  testIdentity,
  testRecipient,
} from './replication-support.js';
import { inTransaction, WORKLOAD_DDL } from './workload.js';

const TABLES: TableName[] = [parseTableName('accounts')];

// The state folder lives on a real, small tmpfs that the test fills up (needs root to mount;
// skipped with the reason otherwise). The database, capture and store are real.
describe('state folder on a full disk', () => {
  let server: TestPostgres;
  let work: string;
  let disk: SmallDisk | { skipped: string };

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-pipeline-disk-'));
    disk = await mountSmallDisk(join(work, 'disk'), 4 * 1024 * 1024);
  });
  afterAll(async () => {
    if (disk !== undefined && 'unmount' in disk) await disk.unmount();
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('waits out ENOSPC on the state file, reports the store path failing, and loses nothing', async (context) => {
    if ('skipped' in disk) return context.skip(disk.skipped);
    const small = disk;
    const url = await server.createDatabase('db_disk_full');
    await server.query(WORKLOAD_DDL, [], 'db_disk_full');
    const slotName = 'cr_disk_full';
    await installCapture({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName });
    const storeDir = join(work, 'store');
    const replicator = new Replicator({
      source: createCaptureSource({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName }),
      store: new FileStore(storeDir),
      recipients: [await testRecipient()],
      stateDir: join(small.dir, 'state'),
      flushIntervalMs: 50,
      checkpointIntervalMs: 0,
    });
    await replicator.start();
    try {
      await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (1, 'a')`]);
      await waitFor(() => (replicator.status().lastSequence ?? 0) >= 1, {
        what: 'the first segment to be recorded',
      });

      // Full: the state write after the next segment fails with ENOSPC, and is retried.
      await small.fill();
      await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (2, 'b')`]);
      const failing = () => replicator.health().storeFailingSince !== undefined;
      await waitFor(() => failing() || replicator.health().state === 'failed', {
        what: 'health to report the failing local write',
        timeoutMs: 20_000,
      });
      expect(replicator.health().error).toBeUndefined();
      expect(replicator.health().state).toBe('running');

      // Freed: the write goes through, health clears, and every row is stored.
      await small.free();
      await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (3, 'c')`]);
      await waitFor(() => replicator.health().storeFailingSince === undefined, {
        what: 'health to clear once the disk has room',
        timeoutMs: 20_000,
      });
      const identity = await testIdentity();
      await waitFor(
        async () => {
          const stored = replay(await readStoredTransactions(new FileStore(storeDir), identity));
          const expected = await tableRows(server, 'db_disk_full', TABLES[0]!, ['id']);
          expect(stored.get('"public"."accounts"') ?? new Map()).toEqual(expected);
          return true;
        },
        { what: 'every row to be stored', timeoutMs: 30_000 },
      );
    } finally {
      await replicator.stop();
    }
    await expect(replicator.finished).resolves.toBeUndefined();
  });
});
