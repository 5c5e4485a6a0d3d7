import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import { type CliResult, runCli } from '../support/cli.js';
import { FAULT_KEYS } from '../support/faults/fault-keys.js';
import { longForm } from '../support/faults/seed.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/keys/${name}`, import.meta.url));
const WRITE = 'bad-input-write-token-0123456789abcdef';
const READ = 'bad-input-read-token-0123456789abcdef';

/** One clear `error:` line, a `hint:` line, non-zero exit, no stack trace, nothing secret. */
function expectClearError(result: CliResult, mentions: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stderr).toMatch(/^error: [a-z]/m);
  expect(result.stderr).toMatch(mentions);
  expect(result.stderr).toMatch(/^hint: /m);
  expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(result.stderr).not.toMatch(/BEGIN .*KEY|s3cret/);
}

/** Run CLI commands a few at a time (each is a Node process; two cores). */
async function inBatches<T>(items: T[], run: (item: T) => Promise<void>, size = 4) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe('bad input to run: keys and configuration refused clearly, nothing written', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cr-faults-bad-input-'));
  });
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  const runWith = (overrides: Record<string, string>, env: NodeJS.ProcessEnv = {}) => {
    const flags: Record<string, string> = {
      '--database-url': 'postgresql://app:s3cret@127.0.0.1:1/app',
      '--store': join(work, 'store'),
      '--recipient': FAULT_KEYS.recoveryPub,
      '--state-dir': join(work, 'state'),
      ...overrides,
    };
    return runCli(['run', ...Object.entries(flags).flat()], { env });
  };

  it('refuses malformed PEM, wrong key types and RSA under 2048 bits, naming the file', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['recipient not PEM', { '--recipient': fixture('TEST-ONLY-not-pem.txt') }, /not-pem/],
      ['recipient EC P-256', { '--recipient': fixture('TEST-ONLY-ec-p256.pem') }, /ec-p256/],
      ['recipient RSA 1024', { '--recipient': fixture('TEST-ONLY-rsa-1024.pub') }, /2048|1024/],
      ['recipient Ed25519', { '--recipient': FAULT_KEYS.signingPub }, /signing\.pub/],
      ['recipient missing', { '--recipient': join(work, 'nothing.pub') }, /nothing\.pub/],
      ['signing key RSA', { '--signing-key': FAULT_KEYS.recoveryPem }, /recovery-3072\.pem/],
      ['signing key public half', { '--signing-key': FAULT_KEYS.signingPub }, /signing\.pub/],
      ['signing key not PEM', { '--signing-key': fixture('TEST-ONLY-not-pem.txt') }, /not-pem/],
    ];
    // Short form: every other case (each is a Node process); the long form runs all.
    const chosen = longForm() ? cases : cases.filter((_, index) => index % 2 === 0);
    await inBatches(chosen, async ([what, flags, mentions]) => {
      const result = await runWith(flags);
      expect(result.stderr, what).toMatch(mentions);
      expectClearError(result, /key|PEM|RSA|bits/i);
    });
    // Nothing was created for any of them.
    expect(await readdir(work)).toEqual([]);
  }, 120_000);

  it('rejects invalid configuration values, naming the setting and what was expected', async () => {
    const cases: Array<[Record<string, string>, NodeJS.ProcessEnv, RegExp]> = [
      [{ '--mode': 'wal2json' }, {}, /--mode "wal2json"/],
      [{ '--flush-interval': '0' }, {}, /--flush-interval "0"/],
      [{ '--format': 'v3' }, {}, /--format "v3"/],
      [{ '--max-segment-bytes': '10' }, {}, /--max-segment-bytes "10"/],
      [{ '--metrics-port': '70000' }, {}, /--metrics-port "70000"/],
      [{ '--slot': 'Bad-Slot' }, {}, /--slot "Bad-Slot"/],
      [{ '--checkpoint-interval': '-1' }, {}, /--checkpoint-interval "-1"/],
      [{ '--spool-max-bytes': '10' }, {}, /--spool-max-bytes "10"/],
      [{ '--log-level': 'loud' }, {}, /--log-level "loud"/],
      [{ '--health-store-stall': '0' }, {}, /--health-store-stall "0"/],
      [{ '--database-url': 'mysql://app:s3cret@db/app' }, {}, /--database-url/],
      [{}, { FLUSH_INTERVAL_MS: 'soon' }, /FLUSH_INTERVAL_MS "soon"/],
      [{}, { CAPTURE_MODE: 'NOTIFY ' }, /CAPTURE_MODE/],
    ];
    const chosen = longForm() ? cases : cases.filter((_, index) => index % 2 === 0);
    await inBatches(chosen, async ([flags, env, mentions]) => {
      const result = await runWith(flags, env);
      expectClearError(result, mentions);
      expect(result.stderr).toMatch(/expected/);
    });
    expect(await readdir(work)).toEqual([]);
  }, 120_000);
});

describe('bad requests to the vault not covered by test/vault', () => {
  let dir: string;
  let vault: RunningVault;
  const STREAM = 'ab'.repeat(16);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-faults-vault-input-'));
    vault = await startVault({
      store: new FileStore(dir),
      writeToken: WRITE,
      readToken: READ,
      port: 0,
    });
  });
  afterAll(async () => {
    await vault?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const put = (path: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${vault.url}${path}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${WRITE}`,
        'content-type': 'application/octet-stream',
        ...headers,
      },
      body,
    });

  it('refuses a write with a forged, stale or misplaced token, storing nothing', async () => {
    for (const headers of [
      { authorization: `Bearer ${WRITE.slice(0, -1)}x` },
      { authorization: `bearer${WRITE}` },
      { authorization: `Basic ${Buffer.from(`u:${WRITE}`).toString('base64')}` },
      { authorization: `Bearer ${READ}` },
      { authorization: '', 'x-api-key': WRITE } as Record<string, string>,
    ]) {
      const response = await put(`/streams/${STREAM}/segments/1`, Buffer.alloc(200), headers);
      expect([401, 403], JSON.stringify(Object.keys(headers))).toContain(response.status);
      expect(await response.text()).not.toContain(WRITE);
    }
    const inQuery = await fetch(`${vault.url}/streams/${STREAM}/segments/2?token=${WRITE}`, {
      method: 'PUT',
      body: Buffer.alloc(200),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(inQuery.status).toBe(401);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a bulk request that is not JSON', async () => {
    const bulk = await fetch(`${vault.url}/envelopes/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE}`, 'content-type': 'application/json' },
      body: '[{"version": "1.0", ',
    });
    expect(bulk.status).toBe(400);
    expect(await readdir(dir)).toEqual([]);
  });

  // Runs last: it requires the vault's folder to hold nothing at all.
  it('rejects stream ids and sequences of the wrong shape on writes, storing nothing', async () => {
    const segment = await readFile(FAULT_KEYS.signingPub); // any bytes: the name is refused first
    for (const path of [
      `/streams/${'AB'.repeat(16)}/segments/1`,
      `/streams/${'a'.repeat(31)}/segments/1`,
      `/streams/${'a'.repeat(33)}/segments/1`,
      `/streams/%2e%2e/segments/1`,
      `/streams/${STREAM}/segments/%2e%2e%2f%2e%2e%2fx`,
      `/streams/${STREAM}/segments/${'9'.repeat(21)}`,
      `/streams/${STREAM}/segments/1.5`,
      `/streams/${STREAM}/checkpoints/abc`,
      `/streams/${STREAM}/unknown/1`,
    ]) {
      const response = await put(path, segment);
      expect([400, 404], path).toContain(response.status);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
