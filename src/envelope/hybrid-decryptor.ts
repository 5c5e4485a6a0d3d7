import { createDecipheriv, privateDecrypt } from 'node:crypto';
import { AuthenticationError, IntegrityError } from '../errors.js';
import type { Identity } from '../keys/key-types.js';
import { loadIdentitySync } from '../keys/load-identity.js';
import { EncryptedEnvelope, V1_TAG_BYTES } from './encrypted-envelope.js';

/** Where a decryptor gets its private key: a loaded identity or a PEM file (seed style). */
export type HybridDecryptorSource = Identity | { privateKeyPath: string; passphrase?: string };

const FAILED = 'failed authentication: wrong key, corrupted or tampered with';

/**
 * Opens v1 envelopes with a private recovery key (PKCS#1 or PKCS#8, encrypted or not), parsed
 * once per decryptor.
 *
 * @example
 * ```ts
 * const decryptor = new HybridDecryptor({ privateKeyPath: 'private.pem' });
 * const row = decryptor.decrypt(EncryptedEnvelope.fromJson(text));
 * ```
 */
export class HybridDecryptor {
  readonly identity: Identity;

  constructor(source: HybridDecryptorSource) {
    this.identity =
      'privateKeyPath' in source
        ? loadIdentitySync(source.privateKeyPath, { passphrase: source.passphrase })
        : source;
  }

  /**
   * Build a decryptor from a private key PEM file.
   *
   * @example
   * ```ts
   * const decryptor = HybridDecryptor.fromPrivateKeyFile('private.pem', { passphrase });
   * ```
   */
  static fromPrivateKeyFile(path: string, options: { passphrase?: string } = {}): HybridDecryptor {
    return new HybridDecryptor({ privateKeyPath: path, ...options });
  }

  /**
   * Decrypt an envelope (an EncryptedEnvelope, its JSON text or object) and return the row it
   * holds, parsed from JSON. Throws AuthenticationError for a wrong key or tampering, and
   * IntegrityError for a malformed envelope, both naming `name`.
   *
   * @example
   * ```ts
   * const row = decryptor.decrypt(envelope, { name: 'envelopes/3f6c…-00000000000000000007.json' });
   * ```
   */
  decrypt(envelope: EncryptedEnvelope | string | object, options: { name?: string } = {}): unknown {
    // Guard: a well-formed envelope whose wrapped key fits this key's modulus.
    const name = options.name ?? 'envelope';
    const checked = EncryptedEnvelope.fromJson(
      envelope instanceof EncryptedEnvelope ? envelope.toObject() : envelope,
      { name },
    );
    const { ciphertext, wrappedKey, iv, tag } = checked.binary();
    if (wrappedKey.length !== Math.ceil(this.identity.bits / 8)) {
      throw new AuthenticationError(
        `decrypt envelope "${name}": no matching key: the wrapped key has ${wrappedKey.length} bytes, the recovery key expects ${Math.ceil(this.identity.bits / 8)}`,
        { hint: 'the envelope was sealed for another key, or it was tampered with' },
      );
    }

    // Unwrap the data key, then decrypt and authenticate the row.
    let plaintext: Buffer;
    let dataKey: Buffer | undefined;
    try {
      dataKey = privateDecrypt({ key: this.identity.privateKey, oaepHash: 'sha256' }, wrappedKey);
      if (dataKey.length !== 32) throw new Error('data key is not 32 bytes');
      const decipher = createDecipheriv('aes-256-gcm', dataKey, iv, {
        authTagLength: V1_TAG_BYTES,
      });
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      // NOTE: key_id only explains the failure; seed envelopes may use another key id scheme,
      // so a differing key_id never stops an attempt to decrypt.
      if (checked.key_id !== this.identity.keyId) {
        throw new AuthenticationError(
          `decrypt envelope "${name}": no matching key: sealed for key id "${checked.key_id.slice(0, 80)}", this key is ${this.identity.keyId}`,
          { hint: 'pass the recovery key the envelope was sealed for' },
        );
      }
      throw new AuthenticationError(`decrypt envelope "${name}": ${FAILED}`, {
        hint: 'fetch the envelope again; if it persists, it was damaged or tampered with',
      });
    } finally {
      dataKey?.fill(0);
    }

    // The plaintext is the row as UTF-8 JSON.
    try {
      return JSON.parse(plaintext.toString('utf8'));
    } catch {
      throw new IntegrityError(`decrypt envelope "${name}": the decrypted data is not JSON`);
    }
  }
}
