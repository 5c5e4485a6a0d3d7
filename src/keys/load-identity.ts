import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { Identity } from './key-types.js';
import { checkRsa } from './load-recipient.js';
import { type PemText, readPemFile, readPemFileSync } from './pem-file.js';

/** Options for loading a private key. */
export interface LoadIdentityOptions {
  /** Passphrase of an encrypted key; ignored for an unencrypted one. */
  passphrase?: string;
}

/**
 * Load an identity (private recovery key) from a PEM file: PKCS#8 (`PRIVATE KEY`,
 * `ENCRYPTED PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`, also openssl's traditional encryption).
 *
 * @example
 * ```ts
 * const identity = await loadIdentity('private.pem', { passphrase: 'correct horse' });
 * ```
 */
export async function loadIdentity(
  path: string,
  options: LoadIdentityOptions = {},
): Promise<Identity> {
  return identityFromPem(await readPemFile(path, 'recovery key'), options);
}

/**
 * Synchronous {@link loadIdentity}, for constructors that mirror the seed's API.
 *
 * @example
 * ```ts
 * const identity = loadIdentitySync('private.pem');
 * ```
 */
export function loadIdentitySync(path: string, options: LoadIdentityOptions = {}): Identity {
  return identityFromPem(readPemFileSync(path, 'recovery key'), options);
}

/**
 * Build an identity from a private RSA key already parsed.
 *
 * @example
 * ```ts
 * const identity = identityFromKey(createPrivateKey(pemText));
 * ```
 */
export function identityFromKey(privateKey: KeyObject, source = 'private key'): Identity {
  const bits = checkRsa(privateKey, source, 'recovery key');
  return { keyId: keyIdOf(createPublicKey(privateKey)), privateKey, bits };
}

function identityFromPem(pem: PemText, options: LoadIdentityOptions): Identity {
  // Guard: the kind of key, and a passphrase for an encrypted one.
  if (pem.kind === 'public') {
    throw new UsageError(
      `load recovery key "${pem.path}": this is a public key, expected a private key`,
      { hint: 'pass the private key kept offline (e.g. recovery.pem or private.pem)' },
    );
  }
  if (pem.kind === 'other') {
    throw new UsageError(
      `load recovery key "${pem.path}": unsupported PEM block "${pem.label}", expected PRIVATE KEY`,
    );
  }
  if (pem.kind === 'encrypted-private' && options.passphrase === undefined) {
    throw new UsageError(`load recovery key "${pem.path}": the key is encrypted`, {
      hint: 'pass its passphrase with --passphrase-file FILE',
    });
  }

  // Parse once; a decryption failure of an encrypted key means a wrong passphrase.
  return identityFromKey(parsePrivateKey(pem, options.passphrase, 'recovery key'), `"${pem.path}"`);
}

/** Parse a private key PEM, mapping OpenSSL failures to one-line usage errors. */
export function parsePrivateKey(
  pem: PemText,
  passphrase: string | undefined,
  what: string,
): KeyObject {
  try {
    return createPrivateKey(
      pem.kind === 'encrypted-private'
        ? { key: pem.text, format: 'pem', passphrase }
        : { key: pem.text, format: 'pem' },
    );
  } catch {
    if (pem.kind === 'encrypted-private') {
      throw new UsageError(`load ${what} "${pem.path}": wrong passphrase`, {
        hint: 'check the passphrase file; it holds the passphrase on its first line',
      });
    }
    throw new UsageError(`load ${what} "${pem.path}": the PEM block is not a valid key`);
  }
}
