import { createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import type { Recipient } from '../keys/key-types.js';
import { loadRecipientSync } from '../keys/load-recipient.js';
import { EncryptedEnvelope, V1_IV_BYTES, V1_TAG_BYTES } from './encrypted-envelope.js';

/** Where an encryptor gets its public key: a loaded recipient or a PEM file (seed style). */
export type HybridEncryptorSource = Recipient | { publicKeyPath: string; keyId?: string };

/**
 * Seals rows the seed's way (format v1): per row a fresh AES-256-GCM key, wrapped with
 * RSA-OAEP-SHA256 (MGF1-SHA256) for one recipient. The key is parsed once per encryptor.
 *
 * @example
 * ```ts
 * const encryptor = new HybridEncryptor({ publicKeyPath: 'keys/cloud.pub' });
 * const envelope = encryptor.encrypt({ id: 1 }, { table: 'nis2_audit_log', operation: 'INSERT' });
 * ```
 */
export class HybridEncryptor {
  readonly recipient: Recipient;
  /** The `key_id` written into every envelope: the recipient's key id unless overridden. */
  readonly keyId: string;

  constructor(source: HybridEncryptorSource) {
    if ('publicKeyPath' in source) {
      this.recipient = loadRecipientSync(source.publicKeyPath);
      this.keyId = source.keyId ?? this.recipient.keyId;
    } else {
      this.recipient = source;
      this.keyId = source.keyId;
    }
  }

  /**
   * Build an encryptor from a public key PEM file (SPKI or PKCS#1).
   *
   * @example
   * ```ts
   * const encryptor = HybridEncryptor.fromPublicKeyFile('keys/cloud.pub');
   * ```
   */
  static fromPublicKeyFile(path: string, options: { keyId?: string } = {}): HybridEncryptor {
    return new HybridEncryptor({ publicKeyPath: path, ...options });
  }

  /**
   * Encrypt one row (any JSON value) into an envelope; table and operation stay in the clear.
   *
   * @example
   * ```ts
   * encryptor.encrypt(row, { table: 'orders', operation: 'UPDATE' }).toJson();
   * ```
   */
  encrypt(data: unknown, context: { table: string; operation: string }): EncryptedEnvelope {
    // Guard: the row must be JSON.
    const json = JSON.stringify(data);
    if (json === undefined) throw new TypeError('the data to encrypt is not a JSON value');

    // Fresh data key and IV per row; the plaintext is the row's UTF-8 JSON; no AAD (seed).
    const dataKey = randomBytes(32);
    const iv = randomBytes(V1_IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: V1_TAG_BYTES });
    const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();

    // Wrap the data key for the recipient, then forget it.
    const wrappedKey = publicEncrypt(
      { key: this.recipient.publicKey, oaepHash: 'sha256' },
      dataKey,
    );
    dataKey.fill(0);
    return new EncryptedEnvelope({
      timestamp: new Date().toISOString(),
      table: context.table,
      operation: context.operation,
      encrypted_data: ciphertext.toString('base64'),
      encrypted_key: wrappedKey.toString('base64'),
      iv: iv.toString('base64'),
      tag: tag.toString('base64'),
      key_id: this.keyId,
    });
  }
}
