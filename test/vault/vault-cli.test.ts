import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { HttpStore } from '../../src/store/http-store.js';
import { runCli } from '../support/cli.js';
import { spawnVault } from './spawn-vault.js';
import { READ_TOKEN, twoTokenStore, WRITE_TOKEN } from './two-token-store.js';

const run = promisify(execFile);
const STREAM = 'd'.repeat(32);

describe('crypto-replicator vault (process)', () => {
  let dir: string;
  const started: ChildProcess[] = [];
  let tokens: string[];
  let tls: { cert: string; key: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-vault-cli-'));
    const writeFileAt = join(dir, 'write.token');
    const readFileAt = join(dir, 'read.token');
    await writeFile(writeFileAt, `${WRITE_TOKEN}\n`, { mode: 0o600 });
    await writeFile(readFileAt, `${READ_TOKEN}\n`, { mode: 0o600 });
    tokens = ['--write-token-file', writeFileAt, '--read-token-file', readFileAt];

    // A TEST-ONLY self-signed certificate for 127.0.0.1, made fresh for this file.
    tls = { cert: join(dir, 'TEST-ONLY-vault.crt'), key: join(dir, 'TEST-ONLY-vault.key') };
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      tls.key,
      '-out',
      tls.cert,
    ]);
  });
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the given certificate to a client that trusts it', async () => {
    const data = join(dir, 'tls-data');
    const vault = await spawnVault([
      '--data-dir',
      data,
      '--port',
      '0',
      ...tokens,
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
    ]);
    started.push(vault.child);
    expect(vault.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const store = twoTokenStore(vault.url, { tlsCa: await readFile(tls.cert) });
    const name = `streams/${STREAM}/segments/00000000000000000001.seg`;
    expect(await store.put(name, Buffer.from('sealed bytes'))).toEqual({ created: true });
    expect(Buffer.from((await store.get(name))!).toString()).toBe('sealed bytes');
    await store.close();

    // A client without the certificate's authority refuses the connection.
    const untrusting = new HttpStore(new URL(vault.url), { token: READ_TOKEN });
    await expect(untrusting.get(name)).rejects.toBeInstanceOf(StoreUnavailableError);
    await untrusting.close();
    vault.child.kill('SIGTERM');
    expect(await vault.exited).toBe(0);
  });

  it('shuts down gracefully on SIGTERM, keeping every acknowledged object', async () => {
    const data = join(dir, 'shutdown-data');
    const vault = await spawnVault(['--data-dir', data, '--port', '0', ...tokens]);
    started.push(vault.child);
    const store = twoTokenStore(vault.url);
    const names = [1, 2, 3].map(
      (n) => `streams/${STREAM}/segments/${String(n).padStart(20, '0')}.seg`,
    );
    for (const name of names) await store.put(name, Buffer.from(name));
    await store.close();

    vault.child.kill('SIGTERM');
    expect(await vault.exited).toBe(0);
    expect(vault.stderr()).toContain('vault stopped');
    for (const name of names) expect(await readFile(join(data, name), 'utf8')).toBe(name);
    // The access log never carries a token.
    expect(vault.stderr()).not.toContain(WRITE_TOKEN);
    expect(vault.stderr()).not.toContain(READ_TOKEN);
  });

  it('refuses to start when the write and read tokens are the same', async () => {
    const same = join(dir, 'same.token');
    await writeFile(same, WRITE_TOKEN, { mode: 0o600 });
    const result = await runCli([
      'vault',
      '--data-dir',
      join(dir, 'x'),
      '--write-token-file',
      same,
      '--read-token-file',
      same,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: load vault tokens: the write token and the read token are the same$/m,
    );
    expect(result.stderr).toMatch(/^hint: /m);
    expect(result.stderr).not.toContain(WRITE_TOKEN);
  });

  it('refuses to start without a place to store, naming both choices', async () => {
    const result = await runCli(['vault', ...tokens]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: start vault: pass exactly one of --data-dir and --s3');
  });

  it('refuses a missing token file without a stack trace', async () => {
    const result = await runCli([
      'vault',
      '--data-dir',
      join(dir, 'y'),
      '--write-token-file',
      join(dir, 'nope'),
      '--read-token-file',
      join(dir, 'nope2'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: read --write-token-file');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
