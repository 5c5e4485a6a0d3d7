import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureMode, createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, qualifiedName, type TableName } from '../../src/change/change.js';
import { loadVerifyKey } from '../../src/keys/index.js';
import { Replicator } from '../../src/pipeline/replicator.js';
import { compareDatabases } from '../../src/restore/compare-databases.js';
import { restore } from '../../src/restore/restore.js';
import {
  DIGEST_SESSION_SQL,
  type TableDigest,
  tableDigest,
} from '../../src/restore/table-digest.js';
import { FileStore } from '../../src/store/file-store.js';
import {
  expectStoredMatchesSource,
  testIdentity,
  testRecipient,
} from '../pipeline/replication-support.js';
import { WORKLOAD_DDL, writeTruncate, writeWorkload } from '../pipeline/workload.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

const TABLES: TableName[] = [parseTableName('accounts'), parseTableName('"Audit Log"')];

let server: TestPostgres;
let work: string;

beforeAll(async () => {
  server = await startPostgres();
  work = await mkdtemp(join(tmpdir(), 'cr-restore-e2e-'));
});

afterAll(async () => {
  await server?.destroy();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** Digests of the source tables now, and the source's clock after the last commit. */
async function sourcePoint(
  url: string,
): Promise<{ at: string; digests: Map<string, TableDigest> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(DIGEST_SESSION_SQL);
    const digests = new Map<string, TableDigest>();
    for (const table of TABLES) digests.set(qualifiedName(table), await tableDigest(client, table));
    const now = await client.query<{ at: string }>(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
    );
    return { at: now.rows[0]!.at, digests };
  } finally {
    await client.end();
  }
}

describe.each<CaptureMode>(['logical', 'outbox', 'notify'])(
  'end to end with %s capture',
  (mode) => {
    it('replicates a workload, restores it into a fresh database with equal digests, and to a point in the middle', async () => {
      // Source database, capture installed, replicator running into a folder store.
      const name = `src_${mode}`;
      const url = await server.createDatabase(name);
      await server.query(WORKLOAD_DDL, [], name);
      await installCapture({ mode, databaseUrl: url, tables: TABLES, slotName: `slot_${mode}` });
      const stateDir = join(work, `state-${mode}`);
      const storeDir = join(work, `store-${mode}`);
      const replicator = new Replicator({
        source: createCaptureSource({
          mode,
          databaseUrl: url,
          tables: TABLES,
          slotName: `slot_${mode}`,
          spoolDir: join(stateDir, 'spool'),
        }),
        store: new FileStore(storeDir),
        recipients: [await testRecipient()],
        stateDir,
        flushIntervalMs: 50,
        checkpointIntervalMs: 0,
      });
      await replicator.start();
      let middle: Awaited<ReturnType<typeof sourcePoint>>;
      try {
        // Two rounds of workload with a recorded point between them.
        await writeWorkload(url);
        await expectStoredMatchesSource({ server, database: name, storeDir, tables: TABLES });
        middle = await sourcePoint(url);
        await writeWorkload(url, 10_000);
        await writeTruncate(url);
        await expectStoredMatchesSource({ server, database: name, storeDir, tables: TABLES });
      } finally {
        await replicator.stop();
      }

      // Full restore: verified with the replicator's signing key, digests equal the source.
      const store = new FileStore(storeDir);
      const identities = [await testIdentity()];
      const verifyKey = await loadVerifyKey(join(stateDir, 'signing.pub'));
      const full = await server.createDatabase(`full_${mode}`);
      const report = await restore({ store, identities, verifyKey, to: full });
      expect(report.complete).toBe(true);
      const compared = await compareDatabases({ source: url, target: full, tables: TABLES });
      expect(compared.tables.filter((t) => !t.equal)).toEqual([]);
      expect(compared.equal).toBe(true);

      // Point-in-time restore to the recorded middle: the tables as they were then.
      const early = await server.createDatabase(`middle_${mode}`);
      const partial = await restore({ store, identities, verifyKey, to: early, until: middle.at });
      expect(partial.streams[0]?.stoppedAtUntil).toBe(true);
      for (const [table, digest] of middle.digests) {
        const restored = partial.tables.find((t) => t.table === table);
        expect({ table, rows: restored?.rows, digest: restored?.digest }).toEqual({
          table,
          rows: digest.rows,
          digest: digest.digest,
        });
      }
    }, 240_000);
  },
);
