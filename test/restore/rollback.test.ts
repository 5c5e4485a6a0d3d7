import { cp, mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord, SchemaRecord } from '../../src/change/change.js';
import { IntegrityError } from '../../src/errors.js';
import {
  type Identity,
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  loadVerifyKey,
  readPassphraseFile,
  type VerifyKey,
} from '../../src/keys/index.js';
import { restore } from '../../src/restore/restore.js';
import type { RestoreReport } from '../../src/restore/restore-report.js';
import { checkpointName, segmentName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { runCli } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { type TestKeys, tx, type WrittenSegment, writeStream } from './stream-fixture.js';

const KEYS = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));
const key = (name: string) => join(KEYS, name);
const STREAM = '7'.repeat(32);
const ITEMS = { schema: 'public', name: 'items' };
const SCHEMA: SchemaRecord = {
  kind: 'schema',
  table: ITEMS,
  columns: [{ name: 'id', type: 'integer', notNull: true }],
  primaryKey: ['id'],
};
const insert = (id: number): ChangeRecord => ({
  kind: 'change',
  table: ITEMS,
  op: 'INSERT',
  new: { id: String(id) },
});

let server: TestPostgres;
let root: string;
let storeDir: string;
let rolledDir: string;
let written: WrittenSegment[];
let identity: Identity;
let verifyKey: VerifyKey;
let databases = 0;

/** A fresh empty database and a probe that lists the user tables in it. */
async function freshDatabase(): Promise<{ url: string; tables: () => Promise<string[]> }> {
  const name = `rollback_${++databases}`;
  const url = await server.createDatabase(name);
  const tables = async () =>
    (
      await server.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        [],
        name,
      )
    ).map((row) => row.t);
  return { url, tables };
}

const restoreFlags = (store: string) => [
  'restore',
  '--store',
  store,
  '--identity',
  key('TEST-ONLY-seed-2048-pkcs8-encrypted.pem'),
  '--passphrase-file',
  key('TEST-ONLY-passphrase.txt'),
  '--verify-key',
  key('TEST-ONLY-signing.pub'),
];

beforeAll(async () => {
  server = await startPostgres();
  root = await mkdtemp(join(tmpdir(), 'cr-restore-rollback-'));
  storeDir = join(root, 'store');

  // A four-segment stream sealed for the TEST-ONLY fixture keys, one checkpoint per segment.
  const passphrase = await readPassphraseFile(key('TEST-ONLY-passphrase.txt'));
  identity = await loadIdentity(key('TEST-ONLY-seed-2048-pkcs8-encrypted.pem'), { passphrase });
  verifyKey = await loadVerifyKey(key('TEST-ONLY-signing.pub'));
  const recipient = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
  const signingKey = await loadSigningKey(key('TEST-ONLY-signing.pem'));
  const keys = { identity, recipient, signingKey } as unknown as TestKeys;
  written = await writeStream(new FileStore(storeDir), {
    streamId: STREAM,
    keys,
    segments: [1, 2, 3, 4].map((n) => [tx(n, n === 1 ? [SCHEMA, insert(n)] : [insert(n)])]),
  });

  // The same store rolled back consistently: segments and checkpoints 3 and 4 removed.
  rolledDir = join(root, 'rolled-back');
  await cp(storeDir, rolledDir, { recursive: true });
  for (const sequence of [3, 4]) {
    await unlink(join(rolledDir, segmentName(STREAM, sequence)));
    await unlink(join(rolledDir, checkpointName(STREAM, sequence)));
  }
});

afterAll(async () => {
  await server?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('restore given the last known head (rollback detection)', () => {
  it('restores an intact store that still holds the expected head', async () => {
    const { url } = await freshDatabase();
    const head = { streamId: STREAM, sequence: 4, hash: written[3]!.hash.toString('hex') };
    const report = await restore({
      store: new FileStore(storeDir),
      identities: [identity],
      verifyKey,
      to: url,
      expectHeads: [head],
    });
    expect(report.complete).toBe(true);
    expect(report.streams[0]?.appliedThroughSequence).toBe(4);
  });

  it('store rolled back consistently: refused before anything is applied, naming expected and found heads', async () => {
    const { url, tables } = await freshDatabase();
    const expected = written[3]!.hash.toString('hex');
    const found = written[1]!.hash.toString('hex');
    for (const upToLastIntact of [false, true]) {
      const run = restore({
        store: new FileStore(rolledDir),
        identities: [identity],
        verifyKey,
        to: url,
        upToLastIntact,
        expectHeads: [{ streamId: STREAM, sequence: 4, hash: expected }],
      });
      await expect(run).rejects.toThrow(IntegrityError);
      await expect(run).rejects.toThrow(
        `stream ${STREAM}: expected head 4:${expected} (recorded earlier), found the stream ending at head 2:${found}`,
      );
    }
    expect(await tables()).toEqual([]);
  });

  it('stream rewritten under a recorded head: refused naming the segment hash found', async () => {
    const { url, tables } = await freshDatabase();
    const other = written[0]!.hash.toString('hex');
    const run = restore({
      store: new FileStore(storeDir),
      identities: [identity],
      verifyKey,
      dryRun: false,
      to: url,
      expectHeads: [{ sequence: 2, hash: other }],
    });
    await expect(run).rejects.toThrow(
      `expected head 2:${other} (recorded earlier), found segment 2 with hash ${written[1]!.hash.toString('hex')}: the stream was rewritten`,
    );
    expect(await tables()).toEqual([]);
  });

  it('store emptied or replaced by one without the stream: refused as a rollback, not as an empty store', async () => {
    const empty = join(root, 'empty');
    const head = { streamId: STREAM, sequence: 4, hash: written[3]!.hash.toString('hex') };
    const run = restore({
      store: new FileStore(empty),
      identities: [identity],
      verifyKey,
      dryRun: true,
      expectHeads: [head],
    });
    await expect(run).rejects.toThrow(IntegrityError);
    await expect(run).rejects.toThrow(
      `stream ${STREAM}: expected head 4:${head.hash} (recorded earlier), found no such stream in the store`,
    );
  });

  it('CLI: a drill report is the rollback anchor: restore --expect-from-report refuses the rolled-back store, exit 4, nothing applied', async () => {
    const drill = await freshDatabase();
    const reportPath = join(root, 'drill.json');
    const first = await runCli([
      ...restoreFlags(storeDir),
      '--to',
      drill.url,
      '--report',
      reportPath,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as RestoreReport;
    expect(report.streams[0]?.head?.sequence).toBe(4);

    const target = await freshDatabase();
    const rolled = await runCli([
      ...restoreFlags(rolledDir),
      '--to',
      target.url,
      '--expect-from-report',
      reportPath,
    ]);
    expect(rolled.code).toBe(4);
    expect(rolled.stderr).toMatch(
      new RegExp(
        `^error: restore from .*: stream ${STREAM}: expected head 4:[0-9a-f]{64} \\(recorded earlier\\), found the stream ending at head 2:[0-9a-f]{64}: the store was rolled back or truncated\\n`,
      ),
    );
    expect(rolled.stderr).toMatch(/\nhint: nothing was applied/);
    expect(rolled.stderr).not.toMatch(/\n\s+at /);
    expect(await target.tables()).toEqual([]);
  });

  it('CLI: --expect-head STREAM:SEQ:HASH refuses the rolled-back store; a malformed head is a usage error', async () => {
    const target = await freshDatabase();
    const head = `${STREAM}:4:${written[3]!.hash.toString('hex')}`;
    const rolled = await runCli([...restoreFlags(rolledDir), '--dry-run', '--expect-head', head]);
    expect(rolled.code).toBe(4);
    expect(rolled.stderr).toMatch(/^error: restore from .*expected head 4:/);
    expect(rolled.stdout).toBe('');

    const bad = await runCli([
      ...restoreFlags(rolledDir),
      '--to',
      target.url,
      '--expect-head',
      '4',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^error: invalid --expect-head "4": expected \[stream:\]sequence:hash\nhint: /,
    );
    expect(await target.tables()).toEqual([]);
  });
});
