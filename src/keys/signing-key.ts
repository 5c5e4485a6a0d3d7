import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { SigningKey, VerifyKey } from './key-types.js';
import { parsePrivateKey } from './load-identity.js';
import { readPemFile } from './pem-file.js';

/** Length of a raw Ed25519 public key in bytes. */
export const ED25519_PUBLIC_KEY_BYTES = 32;

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Load the replicator's Ed25519 signing key (PKCS#8 PEM, as keygen writes `signing.pem`).
 *
 * @example
 * ```ts
 * const signingKey = await loadSigningKey('keys/signing.pem');
 * ```
 */
export async function loadSigningKey(
  path: string,
  options: { passphrase?: string } = {},
): Promise<SigningKey> {
  // Guard: the kind of key.
  const pem = await readPemFile(path, 'signing key');
  if (pem.kind === 'public') {
    throw new UsageError(
      `load signing key "${path}": this is a public key, expected a private key`,
      {
        hint: 'pass signing.pem; signing.pub is for --verify-key',
      },
    );
  }
  if (pem.kind === 'other') {
    throw new UsageError(
      `load signing key "${path}": unsupported PEM block "${pem.label}", expected PRIVATE KEY`,
    );
  }
  if (pem.kind === 'encrypted-private' && options.passphrase === undefined) {
    throw new UsageError(`load signing key "${path}": the key is encrypted`, {
      hint: 'the replicator signs unattended: store signing.pem unencrypted with mode 0600',
    });
  }

  // Parse once and check it is Ed25519.
  const privateKey = parsePrivateKey(pem, options.passphrase, 'signing key');
  checkEd25519(privateKey, `"${path}"`, 'signing key');
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/**
 * Load the public half of a signing key (SPKI PEM, as keygen writes `signing.pub`).
 *
 * @example
 * ```ts
 * const verifyKey = await loadVerifyKey('keys/signing.pub');
 * ```
 */
export async function loadVerifyKey(path: string): Promise<VerifyKey> {
  // Guard: the kind of key.
  const pem = await readPemFile(path, 'verify key');
  if (pem.kind === 'private' || pem.kind === 'encrypted-private') {
    throw new UsageError(
      `load verify key "${path}": this is a private key, expected a public key`,
      {
        hint: 'pass signing.pub, the public half of the replicator signing key',
      },
    );
  }
  if (pem.kind !== 'public') {
    throw new UsageError(
      `load verify key "${path}": unsupported PEM block "${pem.label}", expected PUBLIC KEY`,
    );
  }

  // Parse once and check it is Ed25519.
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem.text);
  } catch {
    throw new UsageError(`load verify key "${path}": the PEM block is not a valid key`);
  }
  checkEd25519(publicKey, `"${path}"`, 'verify key');
  return { keyId: keyIdOf(publicKey), publicKey };
}

/**
 * Generate a fresh Ed25519 signing key pair in memory.
 *
 * @example
 * ```ts
 * const signingKey = generateSigningKey();
 * ```
 */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/**
 * The raw 32-byte Ed25519 public key, as v2 headers and checkpoints carry it.
 *
 * @example
 * ```ts
 * rawEd25519PublicKey(signingKey.publicKey).length; // => 32
 * ```
 */
export function rawEd25519PublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

/**
 * Turn a raw 32-byte Ed25519 public key back into a verify key.
 *
 * @example
 * ```ts
 * const verifyKey = verifyKeyFromRaw(header.signerPublicKey);
 * ```
 */
export function verifyKeyFromRaw(raw: Buffer): VerifyKey {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new TypeError(`an Ed25519 public key has 32 bytes, got ${raw.length}`);
  }

  // NOTE: parsing a key costs about as much as an RSA decryption on this OpenSSL, and a stream
  // has one signer, so parsed keys are kept (public data only, a bounded number of them).
  const cacheKey = raw.toString('hex');
  const cached = VERIFY_KEY_CACHE.get(cacheKey);
  if (cached !== undefined) return cached;
  const publicKey = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
  const verifyKey = { keyId: keyIdOf(publicKey), publicKey };
  if (VERIFY_KEY_CACHE.size >= VERIFY_KEY_CACHE_SIZE) VERIFY_KEY_CACHE.clear();
  VERIFY_KEY_CACHE.set(cacheKey, verifyKey);
  return verifyKey;
}

/**
 * The key id of a raw 32-byte Ed25519 public key, without parsing it: SHA-256 of its SPKI DER.
 *
 * @example
 * ```ts
 * ed25519KeyIdOfRaw(header.signerPublicKey) === verifyKey.keyId; // => true for the signer
 * ```
 */
export function ed25519KeyIdOfRaw(raw: Buffer): string {
  return createHash('sha256').update(ED25519_SPKI_PREFIX).update(raw).digest('hex');
}

/** Parsed signer keys, by raw key in hex. */
const VERIFY_KEY_CACHE = new Map<string, VerifyKey>();
const VERIFY_KEY_CACHE_SIZE = 64;

function checkEd25519(key: KeyObject, source: string, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new UsageError(
      `load ${what} ${source}: ${key.asymmetricKeyType ?? 'unknown'} key, expected Ed25519`,
      { hint: 'signing keys are Ed25519, made by "crypto-replicator keygen --out keys"' },
    );
  }
}
