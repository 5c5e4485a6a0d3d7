import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaptureSource, installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { readRecipientsFile } from '../../src/config/recipients-file.js';
import { resolveRunSettings } from '../../src/config/resolve-settings.js';
import { loadIdentity, loadRecipient } from '../../src/keys/index.js';
import { Replicator } from '../../src/pipeline/replicator.js';
import { openSegment, parseObjectName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import { TEST_RECOVERY_PEM, TEST_RECOVERY_PUB } from './replication-support.js';
import { inTransaction, WORKLOAD_DDL } from './workload.js';

const OTHER_PUB = fileURLToPath(
  new URL('../fixtures/keys/TEST-ONLY-other-recovery-2048.pub', import.meta.url),
);
const OTHER_PEM = fileURLToPath(
  new URL('../fixtures/keys/TEST-ONLY-other-recovery-2048.pem', import.meta.url),
);
const TABLES: TableName[] = [parseTableName('accounts')];

describe('recipients file', () => {
  let server: TestPostgres;
  let work: string;

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-pipeline-recipients-'));
  });
  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('lists paths in order, relative to its folder, skipping comments and blank lines', async () => {
    const folder = join(work, 'keys');
    await mkdir(folder, { recursive: true });
    await copyFile(OTHER_PUB, join(folder, 'other.pub'));
    const list = join(folder, 'recipients.txt');
    await writeFile(list, `# recovery keys\n\n${TEST_RECOVERY_PUB}\n  other.pub  # team B\n`);
    expect(await readRecipientsFile(list)).toEqual([TEST_RECOVERY_PUB, join(folder, 'other.pub')]);
  });

  it('refuses a recipients file listing no key, naming the file', async () => {
    const list = join(work, 'empty.txt');
    await writeFile(list, '# nothing yet\n\n');
    await expect(readRecipientsFile(list)).rejects.toThrow(
      `read recipients file "${list}": no public key path in it`,
    );
    await expect(readRecipientsFile(join(work, 'absent.txt'))).rejects.toThrow(/no such file/);
  });

  it('stands in for --recipient in the run settings (RECIPIENTS_FILE)', () => {
    const env = { DATABASE_URL: 'postgresql://h/db', CLOUD_API_URL: './twin' };
    const settings = resolveRunSettings({}, { ...env, RECIPIENTS_FILE: 'keys/r.txt' });
    expect(settings.recipientsFile).toBe('keys/r.txt');
    expect(settings.recipients).toEqual([]);
    expect(() => resolveRunSettings({}, env)).toThrow(/missing recipient/);
  });

  it('seals segments that either listed identity opens alone', async () => {
    const list = join(work, 'two.txt');
    await writeFile(list, `${TEST_RECOVERY_PUB}\n${OTHER_PUB}\n`);
    const recipients = await Promise.all((await readRecipientsFile(list)).map(loadRecipient));
    expect(recipients).toHaveLength(2);

    // A real stream: logical capture into a folder store, sealed for both keys.
    const url = await server.createDatabase('db_recipients');
    await server.query(WORKLOAD_DDL, [], 'db_recipients');
    const slotName = 'cr_recipients';
    await installCapture({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName });
    const storeDir = join(work, 'store');
    const replicator = new Replicator({
      source: createCaptureSource({ mode: 'logical', databaseUrl: url, tables: TABLES, slotName }),
      store: new FileStore(storeDir),
      recipients,
      stateDir: join(work, 'state'),
      flushIntervalMs: 50,
    });
    await replicator.start();
    await inTransaction(url, [`INSERT INTO accounts (id, owner) VALUES (7, 'seven')`]);
    const store = new FileStore(storeDir);
    const [first, second] = await Promise.all(
      [TEST_RECOVERY_PEM, OTHER_PEM].map((pem) => loadIdentity(pem, {})),
    );
    const openAll = async (identity: typeof first) => {
      const transactions: unknown[] = [];
      for await (const name of store.list('streams/')) {
        if (parseObjectName(name)?.kind !== 'segment') continue;
        const bytes = Buffer.from((await store.get(name))!);
        transactions.push(...openSegment(bytes, { identities: [identity!], name }).transactions);
      }
      return transactions;
    };
    await waitFor(async () => JSON.stringify(await openAll(first)).includes('seven'), {
      what: 'the insert to be stored',
    });
    await replicator.stop();

    // Each private key on its own opens the same transactions.
    const opened = [await openAll(first), await openAll(second)];
    expect(JSON.stringify(opened[0])).toContain('seven');
    expect(opened[1]).toEqual(opened[0]);
  });
});
