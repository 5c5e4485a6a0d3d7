import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  loadVerifyKey,
} from '../../src/keys/index.js';
import { runCli } from '../support/cli.js';
import { expectCleanError } from './cli-expect.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keygen-'));
  await writeFile(join(dir, 'passphrase'), 'TEST-ONLY keygen passphrase\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// NOTE: each case starts the CLI (node + tsx) as a user would; on a loaded machine that takes
// many seconds, so the cases run concurrently and have a generous timeout.
describe.concurrent('crypto-replicator keygen', { timeout: 240_000 }, () => {
  it('writes recovery and signing key pairs with the documented names, forms and modes', async () => {
    const out = join(dir, 'keys');
    const result = await runCli([
      'keygen',
      '--out',
      out,
      '--passphrase-file',
      join(dir, 'passphrase'),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/recovery\.pem: RSA 3072/);
    expect(result.stdout).not.toMatch(/BEGIN/);

    // The private keys are 0600; the recovery key is encrypted PKCS#8, the public one SPKI.
    expect((await stat(join(out, 'recovery.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(out, 'signing.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(out, 'recovery.pem'), 'utf8')).toMatch(
      /^-----BEGIN ENCRYPTED PRIVATE KEY-----/,
    );
    expect(await readFile(join(out, 'recovery.pub'), 'utf8')).toMatch(
      /^-----BEGIN PUBLIC KEY-----/,
    );

    // Both pairs load and match.
    const identity = await loadIdentity(join(out, 'recovery.pem'), {
      passphrase: 'TEST-ONLY keygen passphrase',
    });
    const recipient = await loadRecipient(join(out, 'recovery.pub'));
    expect(identity.keyId).toBe(recipient.keyId);
    expect(recipient.bits).toBe(3072);
    const signingKey = await loadSigningKey(join(out, 'signing.pem'));
    expect((await loadVerifyKey(join(out, 'signing.pub'))).keyId).toBe(signingKey.keyId);
  });

  it('refuses to overwrite existing keys and leaves them untouched', async () => {
    const out = join(dir, 'existing');
    await runCli(['keygen', '--out', out]);
    const before = await readFile(join(out, 'recovery.pem'));
    const result = await runCli(['keygen', '--out', out]);
    expectCleanError(result, 2, /recovery\.pem exists, refusing to overwrite/, { hint: true });
    expect(await readFile(join(out, 'recovery.pem'))).toEqual(before);
  });

  it('rejects a key size other than 3072 or 4096', async () => {
    const result = await runCli(['keygen', '--out', join(dir, 'small'), '--bits', '2048']);
    expectCleanError(result, 2, /invalid --bits "2048": expected 3072 or 4096/);
  });

  it('reports a missing passphrase file without writing keys', async () => {
    const out = join(dir, 'nopass');
    const result = await runCli(['keygen', '--out', out, '--passphrase-file', join(dir, 'none')]);
    expectCleanError(result, 2, /read passphrase file ".*none": file not found/);
    await expect(stat(join(out, 'recovery.pem'))).rejects.toThrow();
  });
});
