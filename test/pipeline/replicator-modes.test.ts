import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureMode, createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { EncryptedEnvelope, HybridDecryptor } from '../../src/envelope/index.js';
import { Replicator, type ReplicatorOptions } from '../../src/pipeline/replicator.js';
import { FileStore } from '../../src/store/file-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import {
  expectStoredMatchesSource,
  TEST_RECOVERY_PEM,
  testRecipient,
} from './replication-support.js';
import { inTransaction, WORKLOAD_DDL, writeTruncate, writeWorkload } from './workload.js';

const TABLES: TableName[] = [parseTableName('accounts'), parseTableName('"Audit Log"')];

describe('replicator with outbox and notify capture, and v1 envelopes', () => {
  let server: TestPostgres;
  let work: string;

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-pipeline-modes-'));
  });
  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  async function setUp(name: string, mode: CaptureMode) {
    const url = await server.createDatabase(name);
    await server.query(WORKLOAD_DDL, [], name);
    await installCapture({ mode, databaseUrl: url, tables: TABLES, slotName: `slot_${name}` });
    const stateDir = join(work, `state-${name}`);
    const storeDir = join(work, `store-${name}`);
    const make = async (extra: Partial<ReplicatorOptions> = {}) =>
      new Replicator({
        source: createCaptureSource({
          mode,
          databaseUrl: url,
          tables: TABLES,
          slotName: `slot_${name}`,
          spoolDir: join(stateDir, 'spool'),
        }),
        store: new FileStore(storeDir),
        recipients: [await testRecipient()],
        stateDir,
        flushIntervalMs: 50,
        ...extra,
      });
    return { url, stateDir, storeDir, make };
  }

  it('outbox: stores every change, and rows written while stopped, deleting outbox rows only once stored', async () => {
    const { url, storeDir, make } = await setUp('outbox', 'outbox');
    const first = await make();
    await first.start();
    await writeWorkload(url);
    await writeTruncate(url);
    await expectStoredMatchesSource({ server, database: 'outbox', storeDir, tables: TABLES });
    await first.stop();

    // Written while no replicator runs: the outbox keeps them.
    await writeWorkload(url, 10_000);
    const [waiting] = await server.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM crypto_replicator.outbox',
      [],
      'outbox',
    );
    expect(Number(waiting!.n)).toBeGreaterThan(0);

    const second = await make();
    await second.start();
    await expectStoredMatchesSource({ server, database: 'outbox', storeDir, tables: TABLES });
    await waitFor(
      async () => {
        const [left] = await server.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM crypto_replicator.outbox',
          [],
          'outbox',
        );
        return left!.n === '0';
      },
      { what: 'the outbox to be emptied once its rows are stored' },
    );
    await second.stop();
  });

  it('notify: stores every change made while listening, including rows over 8000 bytes', async () => {
    const { url, storeDir, make } = await setUp('notify', 'notify');
    const running = await make();
    await running.start();
    await writeWorkload(url);
    await inTransaction(url, [
      `INSERT INTO accounts (id, owner) VALUES (77777, '${'large '.repeat(3_000)}')`,
    ]);
    await writeTruncate(url);
    await expectStoredMatchesSource({ server, database: 'notify', storeDir, tables: TABLES });
    await running.stop();
  });

  it('v1: writes one envelope per change that HybridDecryptor opens to the row', async () => {
    const { url, storeDir, stateDir, make } = await setUp('vone', 'logical');
    const running = await make({ format: 'v1' });
    await running.start();
    await inTransaction(url, [
      `INSERT INTO accounts (id, owner, meta) VALUES (1, 'first ✓', '{"k": [1, null]}')`,
      `UPDATE accounts SET owner = 'second' WHERE id = 1`,
      'DELETE FROM accounts WHERE id = 1',
    ]);
    const store = new FileStore(storeDir);
    const decryptor = HybridDecryptor.fromPrivateKeyFile(TEST_RECOVERY_PEM);
    // NOTE: a logical snapshot opens with a TRUNCATE of the followed tables (one envelope each).
    const openAll = async (names: string[]) =>
      Promise.all(
        names.map(async (name) => {
          const envelope = EncryptedEnvelope.fromJson(
            Buffer.from((await store.get(name))!).toString('utf8'),
          );
          return {
            operation: envelope.operation,
            table: envelope.table,
            data: decryptor.decrypt(envelope),
          };
        }),
      );
    const names = await waitFor(
      async () => {
        const found: string[] = [];
        for await (const name of store.list('envelopes/')) found.push(name);
        const ops = (await openAll(found)).map((o) => o.operation);
        return ops.includes('DELETE') ? found : undefined;
      },
      { what: 'the insert, update and delete envelopes' },
    );
    await running.stop();

    // Names sort in emit order, counters from 1 without gaps; each opens to the seed's row JSON.
    const { streamId } = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
    expect(names).toEqual(
      names.map((_, i) => `envelopes/${streamId}-${String(i + 1).padStart(20, '0')}.json`),
    );
    const opened = (await openAll(names)).filter((o) => o.operation !== 'TRUNCATE');
    expect(opened.map((o) => [o.table, o.operation])).toEqual([
      ['accounts', 'INSERT'],
      ['accounts', 'UPDATE'],
      ['accounts', 'DELETE'],
    ]);
    expect(opened[0]!.data).toMatchObject({ id: '1', owner: 'first ✓', meta: { k: [1, null] } });
    expect(opened[1]!.data).toMatchObject({ id: '1', owner: 'second' });
    expect(opened[2]!.data).toMatchObject({ id: '1' });
  });
});
