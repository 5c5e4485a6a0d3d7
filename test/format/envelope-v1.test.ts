import { describe, expect, it } from 'vitest';
import { EncryptedEnvelope, HybridDecryptor, HybridEncryptor } from '../../src/envelope/index.js';
import { AuthenticationError } from '../../src/errors.js';
import { keyPath, TEST_PASSPHRASE } from './fixture-keys.js';

const encryptor = HybridEncryptor.fromPublicKeyFile(keyPath('TEST-ONLY-seed-2048.pub'));
const decryptor = HybridDecryptor.fromPrivateKeyFile(keyPath('TEST-ONLY-seed-2048-pkcs1.pem'));
const row = { id: 7, actor: 'ana@example.com', amount: '12.50', note: null, tags: ['a', 'ü'] };

function sealed(): Record<string, string> {
  return encryptor.encrypt(row, { table: 'nis2_audit_log', operation: 'INSERT' }).toObject();
}

describe('v1 envelope', () => {
  it('opens what it sealed, with the seed fields in the seed order', () => {
    const envelope = encryptor.encrypt(row, { table: 'nis2_audit_log', operation: 'INSERT' });
    expect(Object.keys(JSON.parse(envelope.toJson()))).toEqual([
      'version',
      'timestamp',
      'table',
      'operation',
      'encrypted_data',
      'encrypted_key',
      'iv',
      'tag',
      'key_id',
    ]);
    expect(envelope.version).toBe('1.0');
    expect(envelope.key_id).toBe(encryptor.recipient.keyId);
    expect(Buffer.from(envelope.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(envelope.tag, 'base64')).toHaveLength(16);
    expect(decryptor.decrypt(EncryptedEnvelope.fromJson(envelope.toJson({ indent: 2 })))).toEqual(
      row,
    );
  });

  it('opens with every form of the seed key: PKCS#1, PKCS#8, encrypted or not', () => {
    const envelope = encryptor.encrypt(row, { table: 't', operation: 'UPDATE' });
    for (const file of ['TEST-ONLY-seed-2048-pkcs8.pem', 'TEST-ONLY-seed-2048-pkcs1.pem']) {
      expect(HybridDecryptor.fromPrivateKeyFile(keyPath(file)).decrypt(envelope)).toEqual(row);
    }
    for (const file of [
      'TEST-ONLY-seed-2048-pkcs8-encrypted.pem',
      'TEST-ONLY-seed-2048-pkcs1-encrypted.pem',
    ]) {
      const withPassphrase = new HybridDecryptor({
        privateKeyPath: keyPath(file),
        passphrase: TEST_PASSPHRASE,
      });
      expect(withPassphrase.decrypt(envelope)).toEqual(row);
    }
    const pkcs1Public = HybridEncryptor.fromPublicKeyFile(keyPath('TEST-ONLY-seed-2048-pkcs1.pub'));
    expect(pkcs1Public.keyId).toBe(encryptor.keyId);
  });

  it('says no matching key when opened with a key it was not sealed for', () => {
    const other = HybridDecryptor.fromPrivateKeyFile(keyPath('TEST-ONLY-other-recovery-2048.pem'));
    expect(() => other.decrypt(sealed(), { name: 'envelopes/x.json' })).toThrow(
      /decrypt envelope "envelopes\/x.json": no matching key/,
    );
  });

  it('rejects a wrapped key whose length differs from the modulus', () => {
    const big = HybridDecryptor.fromPrivateKeyFile(keyPath('TEST-ONLY-recovery-3072.pem'));
    expect(() => big.decrypt(sealed())).toThrow(AuthenticationError);
    const cut = { ...sealed() };
    cut.encrypted_key = Buffer.from(cut.encrypted_key!, 'base64').subarray(1).toString('base64');
    expect(() => decryptor.decrypt(cut)).toThrow(/no matching key: the wrapped key has 255 bytes/);
  });

  it('rejects a flipped bit in the ciphertext, the tag or the IV', () => {
    for (const field of ['encrypted_data', 'tag', 'iv', 'encrypted_key']) {
      const envelope = sealed();
      const bytes = Buffer.from(envelope[field]!, 'base64');
      bytes[0]! ^= 0x01;
      envelope[field] = bytes.toString('base64');
      expect(() => decryptor.decrypt(envelope), field).toThrow(AuthenticationError);
    }
  });

  it('rejects an IV that is not 12 bytes and a tag that is not 16', () => {
    const longIv = { ...sealed(), iv: Buffer.alloc(16).toString('base64') };
    expect(() => EncryptedEnvelope.fromJson(longIv)).toThrow(/iv is not 12 bytes/);
    const shortTag = { ...sealed(), tag: Buffer.alloc(12).toString('base64') };
    expect(() => EncryptedEnvelope.fromJson(shortTag)).toThrow(/tag is not 16 bytes/);
  });

  it('rejects base64 that is not canonical: unpadded, URL-safe, with spaces or stray bits', () => {
    // A 16-byte tag whose base64 uses both URL-unsafe characters and padding.
    const tagBytes = Buffer.from('fbff00000000000000000000000000f0', 'hex');
    const canonical = tagBytes.toString('base64');
    expect(canonical).toBe('+/8AAAAAAAAAAAAAAAAA8A==');
    expect(() => EncryptedEnvelope.fromJson({ ...sealed(), tag: canonical })).not.toThrow();
    const variants = {
      unpadded: '+/8AAAAAAAAAAAAAAAAA8A',
      urlSafe: '-_8AAAAAAAAAAAAAAAAA8A==',
      whitespace: '+/8AAAAAAAAAAAAAAAAA 8A==',
      newline: '+/8AAAAAAAAAAAAAAAAA8A==\n',
      strayBits: '+/8AAAAAAAAAAAAAAAAA8B==',
    };
    for (const [fault, tag] of Object.entries(variants)) {
      expect(() => EncryptedEnvelope.fromJson({ ...sealed(), tag }), fault).toThrow(
        /field "tag" is not canonical padded base64/,
      );
    }
  });

  it('rejects a missing field, an unknown field and another version', () => {
    const { key_id: _dropped, ...missing } = sealed();
    expect(() => EncryptedEnvelope.fromJson(missing)).toThrow(/field "key_id" missing/);
    expect(() => EncryptedEnvelope.fromJson({ ...sealed(), extra: 'x' })).toThrow(/unknown field/);
    expect(() => EncryptedEnvelope.fromJson({ ...sealed(), version: '2.0' })).toThrow(/version/);
    expect(() => EncryptedEnvelope.fromJson('{not json')).toThrow(/not JSON/);
  });
});
