import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord, SchemaRecord } from '../../src/change/change.js';
import { loadRecipient, loadSigningKey } from '../../src/keys/index.js';
import type { RestoreReport } from '../../src/restore/restore-report.js';
import { segmentName } from '../../src/segment/index.js';
import { FileStore } from '../../src/store/file-store.js';
import { runCli } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { type TestKeys, tx, writeStream } from './stream-fixture.js';

const KEYS = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));
const key = (name: string) => join(KEYS, name);
const STREAM = '5'.repeat(32);
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

/** Characters a progress bar or cursor control would leave: C0 controls but \n, DEL, CSI. */
function controlCharacters(text: string): string[] {
  return [...text].filter((c) => {
    const code = c.codePointAt(0)!;
    return (code < 0x20 && c !== '\n') || code === 0x7f || code === 0x9b;
  });
}

beforeAll(async () => {
  server = await startPostgres();
  root = await mkdtemp(join(tmpdir(), 'cr-restore-output-'));
  storeDir = join(root, 'store');
  const recipient = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
  const signingKey = await loadSigningKey(key('TEST-ONLY-signing.pem'));
  const keys = { recipient, signingKey } as unknown as TestKeys;
  await writeStream(new FileStore(storeDir), {
    streamId: STREAM,
    keys,
    segments: [1, 2, 3, 4, 5, 6].map((n) => [tx(n, n === 1 ? [SCHEMA, insert(n)] : [insert(n)])]),
  });
});

afterAll(async () => {
  await server?.destroy();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('restore output when stderr is not a terminal (a pipe, a log file, cron)', () => {
  it('prints no progress bar and no control characters, and prints the final report', async () => {
    const url = await server.createDatabase('piped');
    const result = await runCli([...restoreFlags(storeDir), '--to', url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(controlCharacters(result.stdout)).toEqual([]);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^restore from file:\/\/.* \(v2\) to postgresql:\/\//);
    expect(lines).toContain(`stream ${STREAM}: segments through 6 of 6; 6 transactions, 6 changes`);
    expect(lines.some((l) => l.startsWith('table "public"."items": 0 snapshot, 6 inserted'))).toBe(
      true,
    );
    expect(lines.at(-1)).toMatch(/^complete: took [0-9.]+ s, RPO /);
  });

  it('damaged store with --up-to-last-intact: plain error lines, the final report with what was left out', async () => {
    const damaged = join(root, 'damaged');
    await cp(storeDir, damaged, { recursive: true });
    const path = join(damaged, segmentName(STREAM, 4));
    const bytes = await readFile(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01;
    await writeFile(path, bytes);
    const url = await server.createDatabase('piped_damaged');
    const reportPath = join(root, 'damaged.json');
    const result = await runCli([
      ...restoreFlags(damaged),
      '--to',
      url,
      '--up-to-last-intact',
      '--report',
      reportPath,
    ]);
    expect(result.code).toBe(4);
    expect(controlCharacters(result.stdout)).toEqual([]);
    expect(controlCharacters(result.stderr)).toEqual([]);
    expect(result.stdout).toContain(`stream ${STREAM}: segments through 3 of 6`);
    expect(result.stdout).toMatch(new RegExp(`\\nleft out: stream ${STREAM} segments 4 to 6: `));
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/^INCOMPLETE: took /);
    expect(result.stderr).toMatch(/^error: restore from .*: restored up to the last intact point/);
    expect(result.stderr).toMatch(/\nhint: the report lists what was left out/);
    const report = JSON.parse(await readFile(reportPath, 'utf8')) as RestoreReport;
    expect(report.complete).toBe(false);
    expect(report.leftOut[0]).toMatchObject({ streamId: STREAM, fromSequence: 4 });
    const rows = await server.query('SELECT count(*)::int AS n FROM items', [], 'piped_damaged');
    expect(rows[0]?.n).toBe(3);
  });
});
