import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EncryptedEnvelope, HybridDecryptor, HybridEncryptor } from '../../src/envelope/index.js';
import { keyPath } from './fixture-keys.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../fixtures/vectors/v1_interop.py', import.meta.url));

/** Run the pyca/cryptography implementation with `input` on stdin. */
async function python(args: string[], input: string): Promise<string> {
  const child = run(PYTHON, [SCRIPT, ...args], { encoding: 'utf8' });
  child.child.stdin?.end(input);
  const { stdout } = await child;
  return stdout;
}

const changes = [
  { table: 'nis2_audit_log', operation: 'INSERT', data: { id: 1, who: 'zoë', note: null } },
  { table: 'orders', operation: 'DELETE', data: { id: '9007199254740993', total: 12.5 } },
];

describe('v1 interoperability with the original Python implementation (pyca/cryptography)', () => {
  it('opens envelopes sealed by Python, compact and indented', async () => {
    const decryptor = HybridDecryptor.fromPrivateKeyFile(keyPath('TEST-ONLY-seed-2048-pkcs1.pem'));
    const input = changes.map((change) => JSON.stringify(change)).join('\n');
    for (const flags of [[], ['--indent']]) {
      const output = await python(['seal', keyPath('TEST-ONLY-seed-2048.pub'), ...flags], input);
      const texts =
        flags.length === 0 ? output.trim().split('\n') : output.trim().split(/\n(?=\{)/);
      expect(texts).toHaveLength(2);
      const opened = texts.map((text) => {
        const envelope = EncryptedEnvelope.fromJson(text);
        return {
          table: envelope.table,
          operation: envelope.operation,
          data: decryptor.decrypt(envelope),
        };
      });
      expect(opened).toEqual(changes);
    }
  });

  it('seals envelopes that Python opens', async () => {
    const encryptor = HybridEncryptor.fromPublicKeyFile(keyPath('TEST-ONLY-seed-2048.pub'));
    const lines = changes.map((change) =>
      encryptor.encrypt(change.data, { table: change.table, operation: change.operation }).toJson(),
    );
    const output = await python(
      ['open', keyPath('TEST-ONLY-seed-2048-pkcs8.pem')],
      `${lines.join('\n')}\n`,
    );
    expect(
      output
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual(changes);
  });

  it('refuses in Python what was sealed for another key', async () => {
    const encryptor = HybridEncryptor.fromPublicKeyFile(
      keyPath('TEST-ONLY-other-recovery-2048.pub'),
    );
    const line = encryptor.encrypt({ id: 1 }, { table: 't', operation: 'INSERT' }).toJson();
    await expect(python(['open', keyPath('TEST-ONLY-seed-2048-pkcs8.pem')], line)).rejects.toThrow(
      /ValueError|Decryption failed/,
    );
  });
});
