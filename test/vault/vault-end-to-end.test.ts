import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { loadVerifyKey } from '../../src/keys/index.js';
import { Replicator } from '../../src/pipeline/replicator.js';
import { compareDatabases } from '../../src/restore/compare-databases.js';
import { restore } from '../../src/restore/restore.js';
import { FileStore } from '../../src/store/file-store.js';
import { HttpStore } from '../../src/store/http-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import {
  expectStoredMatchesSource,
  testIdentity,
  testRecipient,
} from '../pipeline/replication-support.js';
import { inTransaction, WORKLOAD_DDL, writeWorkload } from '../pipeline/workload.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { READ_TOKEN, WRITE_TOKEN } from './two-token-store.js';

const TABLES: TableName[] = [parseTableName('accounts'), parseTableName('"Audit Log"')];

describe('replicator and restore through the vault', () => {
  let server: TestPostgres;
  let work: string;
  let vault: RunningVault | undefined;
  let replicator: Replicator | undefined;

  const startVaultOn = (dataDir: string, port: number) =>
    startVault({
      store: new FileStore(dataDir),
      writeToken: WRITE_TOKEN,
      readToken: READ_TOKEN,
      port,
      limits: { ratePerSecond: 10_000, burst: 10_000 },
    });

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-vault-e2e-'));
  });
  afterAll(async () => {
    await replicator?.stop().catch(() => {});
    await vault?.close();
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('replicates through the vault, rides out a vault restart without loss, and restores from it', async () => {
    const url = await server.createDatabase('source');
    await server.query(WORKLOAD_DDL, [], 'source');
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: TABLES });
    const dataDir = join(work, 'vault-data');
    const stateDir = join(work, 'state');
    vault = await startVaultOn(dataDir, 0);
    const port = Number(new URL(vault.url).port);

    // The replicator holds only the write token.
    replicator = new Replicator({
      source: createCaptureSource({ mode: 'outbox', databaseUrl: url, tables: TABLES }),
      store: new HttpStore(new URL(vault.url), { token: WRITE_TOKEN }),
      recipients: [await testRecipient()],
      stateDir,
      flushIntervalMs: 50,
    });
    await replicator.start();
    await writeWorkload(url);
    await expectStoredMatchesSource({
      server,
      database: 'source',
      storeDir: dataDir,
      tables: TABLES,
    });

    // The vault goes away while changes keep coming: the replicator must notice and keep them.
    await vault.close();
    vault = undefined;
    await writeWorkload(url, 10_000);
    await waitFor(() => replicator!.status().storeFailingSince !== undefined, {
      what: 'the replicator to notice the vault is down',
    });

    // Back on the same port: everything written meanwhile arrives, nothing is lost.
    vault = await startVaultOn(dataDir, port);
    await expectStoredMatchesSource({
      server,
      database: 'source',
      storeDir: dataDir,
      tables: TABLES,
      timeoutMs: 60_000,
    });
    expect(replicator.status().storeFailingSince).toBeUndefined();
    await replicator.stop();
    replicator = undefined;

    // Restore reads back through the vault with the read token only, signatures checked.
    const target = await server.createDatabase('restored');
    const reader = new HttpStore(new URL(vault.url), { token: READ_TOKEN });
    try {
      await restore({
        store: reader,
        identities: [await testIdentity()],
        verifyKey: await loadVerifyKey(join(stateDir, 'signing.pub')),
        to: target,
      });
    } finally {
      await reader.close();
    }
    const report = await compareDatabases({ source: url, target, tables: TABLES });
    expect(report.tables.map((t) => [t.table, t.equal])).toEqual(
      report.tables.map((t) => [t.table, true]),
    );
    expect(report.equal).toBe(true);
  });

  it("v1: sends the seed's one POST per row through the vault and restores the rows", async () => {
    const url = await server.createDatabase('vone');
    await server.query(WORKLOAD_DDL, [], 'vone');
    const accounts = [parseTableName('accounts')];
    await installCapture({ mode: 'outbox', databaseUrl: url, tables: accounts });
    const dataDir = join(work, 'vault-v1');
    vault = await startVaultOn(dataDir, 0);
    replicator = new Replicator({
      source: createCaptureSource({ mode: 'outbox', databaseUrl: url, tables: accounts }),
      store: new HttpStore(new URL(vault.url), { token: WRITE_TOKEN }),
      recipients: [await testRecipient()],
      stateDir: join(work, 'state-v1'),
      format: 'v1',
      flushIntervalMs: 50,
    });
    await replicator.start();
    const statements = [
      ...Array.from(
        { length: 30 },
        (_, i) => `INSERT INTO accounts (id, owner, meta) VALUES (${i + 1}, 'owner ${i}', '{}')`,
      ),
      "UPDATE accounts SET owner = 'changed ✓' WHERE id <= 5",
      'DELETE FROM accounts WHERE id > 27',
    ];
    for (const sql of statements) await inTransaction(url, [sql]);

    // One envelope per changed row, each named by its idempotency key.
    const files = new FileStore(dataDir);
    await waitFor(
      async () => {
        let count = 0;
        for await (const _name of files.list('envelopes/')) count += 1;
        return count === 30 + 5 + 3;
      },
      { what: '38 envelopes in the vault' },
    );
    await replicator.stop();
    replicator = undefined;

    const target = await server.createDatabase('vone_restored');
    await server.query(WORKLOAD_DDL, [], 'vone_restored');
    const reader = new HttpStore(new URL(vault.url), { token: READ_TOKEN });
    try {
      await restore({ store: reader, identities: [await testIdentity()], to: target });
    } finally {
      await reader.close();
    }
    const report = await compareDatabases({ source: url, target, tables: accounts });
    expect(report.equal).toBe(true);
    await vault.close();
    vault = undefined;
  });
});
