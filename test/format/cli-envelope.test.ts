import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_SPAWN_ARGS, runCli } from '../support/cli.js';
import { expectCleanError } from './cli-expect.js';
import { keyPath } from './fixture-keys.js';

const run = promisify(execFile);
const ROW = { id: 42, actor: 'TEST-ROW-SECRET', amount: '12.50', note: null };
let dir: string;
let segment: string;
let envelopes: string;

/** Path of a file in the test's folder (the CLI runs from the repository, for tsx). */
const at = (file: string) => join(dir, file);

// Keys made with the seed's own openssl commands, exactly as its README shows them.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-envelope-'));
  await run('openssl', ['genrsa', '-out', 'private.pem', '2048'], { cwd: dir });
  await run('openssl', ['rsa', '-in', 'private.pem', '-pubout', '-out', 'cloud.pub'], { cwd: dir });
  await copyFile(keyPath('TEST-ONLY-signing.pem'), at('signing.pem'));

  // One v2 segment and two v1 envelopes to decrypt, inspect and damage.
  segment = join(dir, 'changes.seg');
  const sealed = await runCliBinary(
    [
      'encrypt',
      '--recipient',
      at('cloud.pub'),
      '--signing-key',
      at('signing.pem'),
      '--table',
      'audit.log',
    ],
    `${JSON.stringify(ROW)}\n${JSON.stringify({ ...ROW, id: 43 })}\n`,
  );
  expect(sealed.code, sealed.stderr).toBe(0);
  await writeFile(segment, sealed.stdout);
  envelopes = join(dir, 'envelopes.jsonl');
  const v1 = await runCli(['encrypt', '--format', 'v1', '--recipient', at('cloud.pub')], {
    input: `${JSON.stringify({ table: 'nis2_audit_log', operation: 'INSERT', data: ROW })}\n`,
  });
  expect(v1.code, v1.stderr).toBe(0);
  await writeFile(envelopes, v1.stdout);
}, 120_000);

/** Run the CLI and keep its stdout as bytes (a v2 segment is binary). */
function runCliBinary(
  args: string[],
  input: string,
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, ...args]);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
    child.stdin.end(input);
  });
}

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// NOTE: each case starts the CLI (node + tsx) as a user would; on a loaded machine that takes
// seconds, so the cases run concurrently and have a generous timeout.
describe.concurrent('crypto-replicator encrypt, decrypt and inspect', { timeout: 240_000 }, () => {
  it('decrypts v1 envelopes to exactly {table, operation, timestamp, key_id, data}', async () => {
    const result = await runCli(['decrypt', '--identity', at('private.pem'), envelopes]);
    expect(result.code, result.stderr).toBe(0);
    const line = JSON.parse(result.stdout.trim());
    expect(Object.keys(line)).toEqual(['table', 'operation', 'timestamp', 'key_id', 'data']);
    expect(line).toMatchObject({ table: 'nis2_audit_log', operation: 'INSERT', data: ROW });
  });

  it('decrypts a v2 segment checked against the verify key, one line per change', async () => {
    const result = await runCli(
      [
        'decrypt',
        '--identity',
        at('private.pem'),
        '--verify-key',
        keyPath('TEST-ONLY-signing.pub'),
        '-',
      ],
      { input: await readFile(segment) },
    );
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      sequence: 1,
      table: { schema: 'audit', name: 'log' },
      op: 'INSERT',
      new: { id: '42', actor: 'TEST-ROW-SECRET', amount: '12.50', note: null },
    });
  });

  it('decrypts the seed-style indented envelope file sealed by Python', async () => {
    const file = keyPath('../vectors/v1/ok-python-indented.json');
    const result = await runCli([
      'decrypt',
      '--identity',
      keyPath('TEST-ONLY-seed-2048-pkcs1.pem'),
      file,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).data).toEqual({ id: 1, actor: 'zoë', note: null });
  });

  it('inspects a segment showing stream and sequence but no row data', async () => {
    const result = await runCli(['inspect', segment]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/v2 segment/);
    expect(result.stdout).toMatch(/sequence: +1/);
    expect(result.stdout).toMatch(/encoding: +text-fields/);
    expect(result.stdout).not.toMatch(/TEST-ROW-SECRET|audit|INSERT/);
  });

  it('inspects a v1 envelope showing the fields it leaks', async () => {
    const result = await runCli(['inspect', envelopes]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/table: +nis2_audit_log +\(in the clear\)/);
    expect(result.stdout).not.toMatch(/TEST-ROW-SECRET/);
  });

  it('reports a tampered segment by name with exit 3 and prints nothing of it', async () => {
    const bytes = await readFile(segment);
    bytes[bytes.length - 100]! ^= 0x01;
    const tampered = join(dir, 'tampered.seg');
    await writeFile(tampered, bytes);
    const result = await runCli(['decrypt', '--identity', at('private.pem'), tampered]);
    expectCleanError(result, 3, /verify segment ".*tampered\.seg": failed authentication/);
    expect(result.stdout).toBe('');
  });

  it('reports a tampered segment in inspect with exit 3', async () => {
    const bytes = await readFile(segment);
    bytes[10]! ^= 0x01;
    const tampered = join(dir, 'tampered-stream-id.seg');
    await writeFile(tampered, bytes);
    const inspected = await runCli(['inspect', tampered]);
    expectCleanError(inspected, 3, /tampered-stream-id\.seg": failed authentication/);
  });

  it('reports a tampered v1 envelope by file and line with exit 3', async () => {
    const envelope = JSON.parse(await readFile(envelopes, 'utf8'));
    const data = Buffer.from(envelope.encrypted_data, 'base64');
    data[0]! ^= 0x01;
    const tampered = join(dir, 'tampered.jsonl');
    await writeFile(
      tampered,
      `${JSON.stringify({ ...envelope, encrypted_data: data.toString('base64') })}\n`,
    );
    const result = await runCli(['decrypt', '--identity', at('private.pem'), tampered]);
    expectCleanError(result, 3, /tampered\.jsonl": failed authentication/);
  });

  it('refuses a segment signed by another key when --verify-key is given', async () => {
    const result = await runCli([
      'decrypt',
      '--identity',
      at('private.pem'),
      '--verify-key',
      keyPath('TEST-ONLY-other-signing.pub'),
      segment,
    ]);
    expectCleanError(result, 3, /not by the verify key/, { hint: true });
  });

  it('says no matching key when decrypting with the wrong recovery key', async () => {
    const result = await runCli([
      'decrypt',
      '--identity',
      keyPath('TEST-ONLY-recovery-3072.pem'),
      segment,
    ]);
    expectCleanError(result, 3, /changes\.seg": no matching key/, { hint: true });
  });

  it('refuses a public key passed as --identity', async () => {
    const result = await runCli(['decrypt', '--identity', at('cloud.pub'), segment]);
    expectCleanError(result, 2, /cloud\.pub": this is a public key, expected a private key/);
  });

  it('asks for the passphrase of an encrypted key', async () => {
    const key = keyPath('TEST-ONLY-seed-2048-pkcs1-encrypted.pem');
    const missing = await runCli(['decrypt', '--identity', key, segment]);
    expectCleanError(missing, 2, /the key is encrypted/, { hint: true });
  });

  it('rejects a wrong passphrase', async () => {
    const key = keyPath('TEST-ONLY-seed-2048-pkcs8-encrypted.pem');
    const wrong = await runCli([
      'decrypt',
      '--identity',
      key,
      '--passphrase-file',
      keyPath('TEST-ONLY-wrong-passphrase.txt'),
      segment,
    ]);
    expectCleanError(wrong, 2, /wrong passphrase/, { hint: true });
  });

  it('rejects an RSA identity under 2048 bits', async () => {
    const small = await runCli([
      'decrypt',
      '--identity',
      keyPath('TEST-ONLY-rsa-1024.pem'),
      segment,
    ]);
    expectCleanError(small, 2, /RSA key of 1024 bits, at least 2048 required/);
  });

  it('rejects an identity file that is not PEM', async () => {
    const notPem = await runCli([
      'decrypt',
      '--identity',
      keyPath('TEST-ONLY-not-pem.txt'),
      segment,
    ]);
    expectCleanError(notPem, 2, /not a PEM file/, { hint: true });
  });

  it('reports a missing input file', async () => {
    const missing = await runCli(['decrypt', '--identity', at('private.pem'), at('nope.json')]);
    expectCleanError(missing, 2, /read ".*nope\.json": file not found/);
  });

  it('reports malformed envelope input as a bad envelope', async () => {
    const garbage = await runCli(['decrypt', '--identity', at('private.pem'), '-'], {
      input: 'this is not an envelope\n',
    });
    expectCleanError(garbage, 4, /read envelope "stdin line 1": bad envelope: not JSON/);
  });

  it('reports a cut segment in inspect as truncated', async () => {
    const inspectGarbage = await runCli(['inspect', '-'], { input: 'CRSG\u0002 cut short' });
    expectCleanError(inspectGarbage, 4, /read segment "stdin": truncated/);
  });

  it('refuses a private key as --recipient', async () => {
    const privateKey = await runCli(
      ['encrypt', '--format', 'v1', '--recipient', at('private.pem')],
      {
        input: '{"table":"t","operation":"INSERT","data":{}}\n',
      },
    );
    expectCleanError(privateKey, 2, /this is a private key, expected a public key/, { hint: true });
  });

  it('refuses a recipient key under 2048 bits', async () => {
    const small = await runCli(
      ['encrypt', '--format', 'v1', '--recipient', keyPath('TEST-ONLY-rsa-1024.pub')],
      {
        input: '{"table":"t","operation":"INSERT","data":{}}\n',
      },
    );
    expectCleanError(small, 2, /RSA key of 1024 bits/);
  });

  it('refuses v2 without a signing key', async () => {
    const unsigned = await runCli(['encrypt', '--recipient', at('cloud.pub')], { input: '{}\n' });
    expectCleanError(unsigned, 2, /--signing-key is missing/, { hint: true });
  });

  it('refuses a signing key of the wrong type', async () => {
    const rsaSigner = await runCli(
      [
        'encrypt',
        '--recipient',
        at('cloud.pub'),
        '--signing-key',
        at('private.pem'),
        '--table',
        't',
      ],
      { input: '{}\n' },
    );
    expectCleanError(rsaSigner, 2, /rsa key, expected Ed25519/, { hint: true });
  });

  it('rejects a malformed input line without echoing its content', async () => {
    const result = await runCli(['encrypt', '--format', 'v1', '--recipient', at('cloud.pub')], {
      input: '{"table":"t","operation":"INSERT","data":{}}\n{"TEST-ROW-SECRET": \n',
    });
    expectCleanError(result, 2, /read stdin line 2: not JSON/, { hint: true });
    expect(result.stderr).not.toMatch(/TEST-ROW-SECRET/);
    expect(result.stdout).toBe('');
  });
});
