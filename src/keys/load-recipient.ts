import { createPublicKey, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { Recipient } from './key-types.js';
import { type PemText, readPemFile, readPemFileSync } from './pem-file.js';

/** Smallest RSA modulus accepted for recovery keys, in bits. */
export const MIN_RSA_BITS = 2048;

/**
 * Load a recipient (public recovery key) from a PEM file: SPKI (`PUBLIC KEY`, what
 * `openssl rsa -pubout` and keygen write) or PKCS#1 (`RSA PUBLIC KEY`). RSA of 2048 bits or more.
 *
 * @example
 * ```ts
 * const recipient = await loadRecipient('keys/cloud.pub');
 * ```
 */
export async function loadRecipient(path: string): Promise<Recipient> {
  return recipientFromPem(await readPemFile(path, 'recipient key'));
}

/**
 * Synchronous {@link loadRecipient}, for constructors that mirror the seed's API.
 *
 * @example
 * ```ts
 * const recipient = loadRecipientSync('keys/cloud.pub');
 * ```
 */
export function loadRecipientSync(path: string): Recipient {
  return recipientFromPem(readPemFileSync(path, 'recipient key'));
}

/**
 * Build a recipient from a public RSA key already parsed.
 *
 * @example
 * ```ts
 * const recipient = recipientFromKey(createPublicKey(pemText));
 * ```
 */
export function recipientFromKey(publicKey: KeyObject, source = 'public key'): Recipient {
  const bits = checkRsa(publicKey, source, 'recipient key');
  return { type: 'rsa-oaep-sha256', keyId: keyIdOf(publicKey), publicKey, bits };
}

function recipientFromPem(pem: PemText): Recipient {
  // Guard: a private key is refused rather than silently reduced to its public half.
  if (pem.kind === 'private' || pem.kind === 'encrypted-private') {
    throw new UsageError(
      `load recipient key "${pem.path}": this is a private key, expected a public key`,
      { hint: 'pass the public key, e.g. "openssl rsa -in private.pem -pubout -out cloud.pub"' },
    );
  }
  if (pem.kind !== 'public') {
    throw new UsageError(
      `load recipient key "${pem.path}": unsupported PEM block "${pem.label}", expected PUBLIC KEY`,
    );
  }

  // Parse once; callers reuse the KeyObject for every wrap.
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem.text);
  } catch {
    throw new UsageError(`load recipient key "${pem.path}": the PEM block is not a valid key`);
  }
  return recipientFromKey(publicKey, `"${pem.path}"`);
}

/**
 * Check that a key is RSA with a large enough modulus; returns the modulus length in bits.
 * `source` is how the key is named in errors (a quoted path).
 */
export function checkRsa(key: KeyObject, source: string, what: string): number {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new UsageError(
      `load ${what} ${source}: ${key.asymmetricKeyType ?? 'unknown'} key, expected RSA`,
      { hint: 'recovery keys are RSA, e.g. "crypto-replicator keygen --out keys"' },
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new UsageError(
      `load ${what} ${source}: RSA key of ${bits} bits, at least ${MIN_RSA_BITS} required`,
      { hint: 'create a 3072-bit key with "crypto-replicator keygen --out keys"' },
    );
  }
  return bits;
}
