import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord, SchemaRecord } from '../../src/change/change.js';
import {
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  readPassphraseFile,
} from '../../src/keys/index.js';
import type { RestoreReport } from '../../src/restore/restore-report.js';
import { checkpointName, segmentName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { runCli } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { type TestKeys, tx, writeStream } from './stream-fixture.js';

const KEYS = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));
const key = (name: string) => join(KEYS, name);
const STREAM = '1'.repeat(32);
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
let recipientKeyId: string;

/** The flags every restore here passes: the encrypted TEST-ONLY key and its passphrase. */
const restoreFlags = () => [
  'restore',
  '--store',
  storeDir,
  '--identity',
  key('TEST-ONLY-seed-2048-pkcs8-encrypted.pem'),
  '--passphrase-file',
  key('TEST-ONLY-passphrase.txt'),
  '--verify-key',
  key('TEST-ONLY-signing.pub'),
];

beforeAll(async () => {
  server = await startPostgres();
  root = await mkdtemp(join(tmpdir(), 'cr-restore-cli-'));
  storeDir = join(root, 'store');

  // A store sealed for the TEST-ONLY fixture keys, as the replicator would write it.
  const passphrase = await readPassphraseFile(key('TEST-ONLY-passphrase.txt'));
  const identity = await loadIdentity(key('TEST-ONLY-seed-2048-pkcs8-encrypted.pem'), {
    passphrase,
  });
  const recipient = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
  const signingKey = await loadSigningKey(key('TEST-ONLY-signing.pem'));
  recipientKeyId = recipient.keyId;
  const keys = { identity, recipient, signingKey } as unknown as TestKeys;
  await writeStream(new FileStore(storeDir), {
    streamId: STREAM,
    keys,
    segments: [[tx(1, [SCHEMA, insert(1)])], [tx(2, [insert(2)])], [tx(3, [insert(3)])]],
  });
});

afterAll(async () => {
  await server?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('crypto-replicator verify, restore, compare and keys list', () => {
  it('verify exits 0 on an intact store, and warns without --verify-key', async () => {
    const keyed = await runCli([
      'verify',
      '--store',
      storeDir,
      '--verify-key',
      key('TEST-ONLY-signing.pub'),
    ]);
    expect(keyed.code).toBe(0);
    expect(keyed.stdout).toMatch(/segments 1-3/);
    expect(keyed.stdout).toMatch(/intact: 3 segment\(s\) checked, signed by the verify key/);

    const unkeyed = await runCli(['verify', '--store', storeDir, '--json']);
    expect(unkeyed.code).toBe(0);
    const report = JSON.parse(unkeyed.stdout);
    expect(report.authenticityProven).toBe(false);
    expect(report.warnings.join(' ')).toMatch(/authenticity not proven/);
  });

  it('restore writes the drill report; verify then detects a rollback against it', async () => {
    const url = await server.createDatabase('drill');
    const reportPath = join(root, 'drill.json');
    const result = await runCli([...restoreFlags(), '--to', url, '--report', reportPath]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/complete: took/);

    const report = JSON.parse(await readFile(reportPath, 'utf8')) as RestoreReport;
    expect(report.keys.identityKeyIds).toEqual([recipientKeyId]);
    expect(report.streams[0]).toMatchObject({
      streamId: STREAM,
      appliedThroughSequence: 3,
      firstPosition: '1',
      lastPosition: '3',
      head: { sequence: 3 },
    });
    expect(report.tables[0]).toMatchObject({ table: '"public"."items"', rows: 3 });
    expect(report.rpoSeconds).toBeGreaterThan(0);
    expect(report.rtoSeconds).toBeGreaterThan(0);

    // A copy of the store with the newest segment and checkpoint gone: a rollback.
    const copy = join(root, 'rolled-back');
    const { cp } = await import('node:fs/promises');
    await cp(storeDir, copy, { recursive: true });
    await unlink(join(copy, segmentName(STREAM, 3)));
    await unlink(join(copy, checkpointName(STREAM, 3)));
    const rolled = await runCli(['verify', '--store', copy, '--expect-from-report', reportPath]);
    expect(rolled.code).toBe(4);
    expect(rolled.stdout).toMatch(/problem \(rollback\)/);
    expect(rolled.stderr).toMatch(/^error: verify store .*: 1 problem\(s\)/);
  });

  it('restore with the wrong passphrase: one error line and a hint, exit 2, no stack', async () => {
    const url = await server.createDatabase('wrong_pass');
    const flags = restoreFlags();
    flags[flags.indexOf(key('TEST-ONLY-passphrase.txt'))] = key('TEST-ONLY-wrong-passphrase.txt');
    const result = await runCli([...flags, '--to', url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: .*passphrase/);
    expect(result.stderr).toMatch(/\nhint: /);
    expect(result.stderr).not.toMatch(/ at /);
  });

  it('restore of a store with a flipped bit: names the segment and says what was committed', async () => {
    const damaged = join(root, 'damaged');
    const { cp } = await import('node:fs/promises');
    await cp(storeDir, damaged, { recursive: true });
    const path = join(damaged, segmentName(STREAM, 2));
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x40;
    await writeFile(path, bytes);
    const url = await server.createDatabase('damaged');
    const flags = restoreFlags();
    flags[flags.indexOf(storeDir)] = damaged;
    const result = await runCli([...flags, '--to', url]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /restored and committed through segment 1 of 3; nothing after it was applied/,
    );
    expect(result.stderr).toMatch(/error: verify segment .*0{19}2\.seg.*failed authentication/);
    const rows = await server.query('SELECT id FROM items', [], 'damaged');
    expect(rows).toEqual([{ id: 1 }]);
  });

  it('dry run prints the plan and writes nothing', async () => {
    const url = await server.createDatabase('dry');
    const result = await runCli([...restoreFlags(), '--to', url, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plan \(dry run, nothing written\)/);
    expect(result.stdout).toMatch(/table "public"."items": 0 snapshot, 3 inserted/);
    const tables = await server.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
      [],
      'dry',
    );
    expect(tables[0]?.n).toBe(0);
  });

  it('restore to an unreachable database: exit 6 naming the redacted URL', async () => {
    const result = await runCli([
      ...restoreFlags(),
      '--to',
      'postgresql://app:hunter2@127.0.0.1:1/x',
    ]);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/^error: connect to target database postgresql:\/\/app:\*\*\*@/);
    expect(result.stderr).not.toContain('hunter2');
  });

  it('compare exits 0 on equal databases and 4 naming the differing table', async () => {
    const a = await server.createDatabase('cmp_a');
    const b = await server.createDatabase('cmp_b');
    for (const db of ['cmp_a', 'cmp_b']) {
      await server.query(
        'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)',
        [],
        db,
      );
    }
    const equal = await runCli(['compare', '--source', a, '--target', b]);
    expect(equal.code).toBe(0);
    expect(equal.stdout).toMatch(/same "public"."t": source 2 rows/);
    await server.query('DELETE FROM t WHERE id = 2', [], 'cmp_b');
    const differs = await runCli(['compare', '--source', a, '--target', b, '--json']);
    expect(differs.code).toBe(4);
    expect(JSON.parse(differs.stdout).tables[0]).toMatchObject({
      table: '"public"."t"',
      equal: false,
    });
    expect(differs.stderr).toMatch(/^error: compare databases: 1 table\(s\) differ: "public"."t"/);
  });

  it('keys list shows recipient and signer key ids and the segments using them', async () => {
    const result = await runCli(['keys', 'list', '--store', storeDir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `recipient rsa-oaep-sha256 2048-bit ${recipientKeyId}: stream ${STREAM} segments 1-3`,
    );
    expect(result.stdout).toMatch(
      new RegExp(`signer ed25519 256-bit [0-9a-f]{64}: stream ${STREAM} segments 1-3`),
    );
  });
});
