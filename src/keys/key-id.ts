import { createHash, type KeyObject } from 'node:crypto';

/** Length of a key id in bytes (SHA-256), as stored in v2 headers. */
export const KEY_ID_BYTES = 32;

/**
 * The id of a public key: SHA-256 of its SubjectPublicKeyInfo DER bytes, lowercase hex. The
 * same key always has the same id, whatever PEM flavour it was read from. A private key is
 * identified by its public half.
 *
 * @example
 * ```ts
 * keyIdOf(recipient.publicKey); // => 'a3c1…' (64 hex characters)
 * ```
 */
export function keyIdOf(publicKey: KeyObject): string {
  if (publicKey.type !== 'public') {
    throw new TypeError(`keyIdOf expects a public key, got a ${publicKey.type} key`);
  }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}
