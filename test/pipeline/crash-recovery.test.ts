import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { Replicator } from '../../src/pipeline/replicator.js';
import { newState, writeState } from '../../src/pipeline/state-file.js';
import { parseObjectName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
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

// A SIGKILL at the wrong moment (or an older release that wrote the state before the put) leaves
// a state file naming a head the store does not hold. The state files are written by hand here
// to model exactly those crash points; the database, capture and store are real.
describe('replicator restarted after a crash left the state ahead of the store', () => {
  let server: TestPostgres;
  let url: string;
  let database: string;
  let slotName: string;
  let work: string;

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-pipeline-crash-'));
  });
  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  beforeEach(async (context) => {
    database = `db_${createHash('sha256').update(context.task.name).digest('hex').slice(0, 12)}`;
    slotName = `cr_${database}`;
    url = await server.createDatabase(database);
    await server.query(WORKLOAD_DDL, [], database);
    await installCapture({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName });
  });

  async function replicator(stateDir: string, storeDir: string): Promise<Replicator> {
    return new Replicator({
      source: createCaptureSource({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName }),
      store: new FileStore(storeDir),
      recipients: [await testRecipient()],
      stateDir,
      flushIntervalMs: 50,
      checkpointIntervalMs: 0,
    });
  }

  /** Wait until the stored stream rebuilds the source table; return the stored sequences. */
  async function expectStoredMatchesSource(storeDir: string): Promise<number[]> {
    const identity = await testIdentity();
    const store = new FileStore(storeDir);
    await waitFor(
      async () => {
        const replayed = replay(await readStoredTransactions(store, identity));
        const expected = await tableRows(server, database, TABLES[0]!, ['id']);
        expect(replayed.get('"public"."accounts"') ?? new Map()).toEqual(expected);
        return true;
      },
      { what: 'the stored stream to match the source table', timeoutMs: 30_000 },
    );
    const sequences: number[] = [];
    for await (const name of store.list('streams/')) {
      const parsed = parseObjectName(name);
      if (parsed?.kind === 'segment') sequences.push(parsed.sequence);
    }
    return sequences;
  }

  async function readStateFile(stateDir: string) {
    return JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
  }

  it('resumes when the state names segment 1 but the crash came before it was stored', async () => {
    const stateDir = join(work, 'state-first');
    const storeDir = join(work, 'store-first');
    const state = { ...newState('v2'), lastSequence: 1, headHash: randomBytes(32).toString('hex') };
    await writeState(stateDir, state);

    const replicator1 = await replicator(stateDir, storeDir);
    await replicator1.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (1, 'a')`]);
    const sequences = await expectStoredMatchesSource(storeDir);
    await replicator1.stop();
    expect(sequences[0]).toBe(1);
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    expect((await readStateFile(stateDir)).streamId).toBe(state.streamId);
  });

  it('resumes from the stored head when the state names a newer segment never stored', async () => {
    const stateDir = join(work, 'state-ahead');
    const storeDir = join(work, 'store-ahead');
    const first = await replicator(stateDir, storeDir);
    await first.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (1, 'a')`]);
    const before = await expectStoredMatchesSource(storeDir);
    await first.stop();

    // The state as an older release wrote it: the next head, then SIGKILL before the put.
    const state = await readStateFile(stateDir);
    const ahead = {
      ...state,
      lastSequence: state.lastSequence + 1,
      headHash: randomBytes(32).toString('hex'),
    };
    await writeFile(join(stateDir, 'state.json'), JSON.stringify(ahead));

    const second = await replicator(stateDir, storeDir);
    await second.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (2, 'b')`]);
    const after = await expectStoredMatchesSource(storeDir);
    await second.stop();
    expect(after.length).toBeGreaterThan(before.length);
    expect(after).toEqual(after.map((_, i) => i + 1));
  });

  it('adopts the stored segment when the state recorded another one under its sequence', async () => {
    const stateDir = join(work, 'state-differs');
    const storeDir = join(work, 'store-differs');
    const first = await replicator(stateDir, storeDir);
    await first.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (1, 'a')`]);
    await expectStoredMatchesSource(storeDir);
    await first.stop();

    const state = await readStateFile(stateDir);
    const other = { ...state, headHash: randomBytes(32).toString('hex') };
    await writeFile(join(stateDir, 'state.json'), JSON.stringify(other));

    const second = await replicator(stateDir, storeDir);
    await second.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (2, 'b')`]);
    const after = await expectStoredMatchesSource(storeDir);
    await second.stop();
    expect(after).toEqual(after.map((_, i) => i + 1));
    expect(after.length).toBeGreaterThan(state.lastSequence);
  });

  it('still refuses an empty store for a state that names several stored segments', async () => {
    const stateDir = join(work, 'state-wrong-store');
    const state = { ...newState('v2'), lastSequence: 5, headHash: randomBytes(32).toString('hex') };
    await writeState(stateDir, state);
    const wrong = await replicator(stateDir, join(work, 'store-empty'));
    await expect(wrong.start()).rejects.toThrow(/segment 5 is missing/);
  });
});
