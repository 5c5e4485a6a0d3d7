import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeRecord } from '../../src/change/change.js';
import { HybridEncryptor } from '../../src/envelope/index.js';
import { loadRecipient, loadSigningKey, type Recipient } from '../../src/keys/index.js';
import { listStoreKeys, type StoreKey } from '../../src/restore/list-store-keys.js';
import { FileStore } from '../../src/store/file-store.js';
import { runCli } from '../support/cli.js';
import { type TestKeys, tx, writeStream } from './stream-fixture.js';

const KEYS = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));
const key = (name: string) => join(KEYS, name);
const STREAM = 'a'.repeat(32);
const insert = (id: number): ChangeRecord => ({
  kind: 'change',
  table: { schema: 'public', name: 'items' },
  op: 'INSERT',
  new: { id: String(id) },
});

let root: string;
let v2Dir: string;
let v1Dir: string;
let big: Recipient;
let small: Recipient;
let signerKeyId: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cr-keys-list-'));
  v2Dir = join(root, 'v2');
  v1Dir = join(root, 'v1');

  // A key rotation from a 3072-bit to a 2048-bit TEST-ONLY recovery key, with one segment
  // sealed for both (escrow during the change-over).
  big = await loadRecipient(key('TEST-ONLY-recovery-3072.pub'));
  small = await loadRecipient(key('TEST-ONLY-other-recovery-2048.pub'));
  const signingKey = await loadSigningKey(key('TEST-ONLY-signing.pem'));
  signerKeyId = signingKey.keyId;
  const keys = { signingKey } as unknown as TestKeys;
  const store = new FileStore(v2Dir);
  const first = await writeStream(store, {
    streamId: STREAM,
    keys,
    recipients: [big],
    segments: [[tx(1, [insert(1)])], [tx(2, [insert(2)])]],
  });
  const second = await writeStream(store, {
    streamId: STREAM,
    keys,
    recipients: [big, small],
    firstSequence: 3,
    previousHash: first[1]!.hash,
    segments: [[tx(3, [insert(3)])]],
  });
  await writeStream(store, {
    streamId: STREAM,
    keys,
    recipients: [small],
    firstSequence: 4,
    previousHash: second[0]!.hash,
    segments: [[tx(4, [insert(4)])], [tx(5, [insert(5)])]],
  });

  // A v1 store: two envelopes for the seed's 2048-bit TEST-ONLY key.
  const seed = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
  const v1 = new FileStore(v1Dir);
  const encryptor = new HybridEncryptor(seed);
  for (const n of [1, 2]) {
    const envelope = encryptor.encrypt({ id: n }, { table: 'audit', operation: 'INSERT' });
    const name = `envelopes/${'f'.repeat(32)}-${String(n).padStart(20, '0')}.json`;
    await v1.put(name, Buffer.from(envelope.toJson()));
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const find = (keys: StoreKey[], keyId: string) => keys.find((k) => k.keyId === keyId);

describe('keys list: key ids, algorithms, sizes and the segments using them, without decrypting', () => {
  it('derives RSA sizes from the wrapped key length and lists the segment ranges per key', async () => {
    const { keys, unreadable } = await listStoreKeys(new FileStore(v2Dir));
    expect(unreadable).toEqual([]);
    expect(keys).toHaveLength(3);
    expect(find(keys, big.keyId)).toMatchObject({
      role: 'recipient',
      type: 'rsa-oaep-sha256',
      bits: 3072,
      segments: [{ streamId: STREAM, ranges: [[1, 3]] }],
    });
    expect(find(keys, small.keyId)).toMatchObject({
      role: 'recipient',
      type: 'rsa-oaep-sha256',
      bits: 2048,
      segments: [{ streamId: STREAM, ranges: [[3, 5]] }],
    });
    expect(find(keys, signerKeyId)).toMatchObject({
      role: 'signer',
      type: 'ed25519',
      bits: 256,
      segments: [{ streamId: STREAM, ranges: [[1, 5]] }],
    });
    for (const k of keys) expect(k.otherBits).toBeUndefined();
  });

  it('CLI prints role, algorithm, size and ranges per key, and the same as JSON', async () => {
    const text = await runCli(['keys', 'list', '--store', v2Dir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      `recipient rsa-oaep-sha256 3072-bit ${big.keyId}: stream ${STREAM} segments 1-3\n`,
    );
    expect(text.stdout).toContain(
      `recipient rsa-oaep-sha256 2048-bit ${small.keyId}: stream ${STREAM} segments 3-5\n`,
    );
    expect(text.stdout).toContain(
      `signer ed25519 256-bit ${signerKeyId}: stream ${STREAM} segments 1-5\n`,
    );

    const json = await runCli(['keys', 'list', '--store', v2Dir, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { keys: StoreKey[] };
    expect(find(parsed.keys, big.keyId)?.bits).toBe(3072);
    expect(find(parsed.keys, small.keyId)?.bits).toBe(2048);
    expect(find(parsed.keys, signerKeyId)?.bits).toBe(256);
  });

  it('v1 envelopes: the recipient size comes from encrypted_key, counted per envelope', async () => {
    const seed = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
    const text = await runCli(['keys', 'list', '--store', v1Dir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(
      `recipient rsa-oaep-sha256 2048-bit ${seed.keyId}: 2 v1 envelope(s)\n`,
    );
  });
});
