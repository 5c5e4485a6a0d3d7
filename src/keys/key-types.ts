import type { KeyObject } from 'node:crypto';

/** The only recipient type this version writes: RSA-OAEP with SHA-256 and MGF1-SHA-256. */
export type RecipientType = 'rsa-oaep-sha256';

/**
 * A public recovery key that data keys are wrapped for. Loaded once, used for every segment.
 *
 * @example
 * ```ts
 * const recipient: Recipient = await loadRecipient('keys/recovery.pub');
 * recipient.keyId; // => '3f1c…' (64 hex characters)
 * ```
 */
export interface Recipient {
  type: RecipientType;
  /** {@link keyIdOf} of the public key. */
  keyId: string;
  publicKey: KeyObject;
  /** RSA modulus length in bits (2048 or more). */
  bits: number;
}

/**
 * A private recovery key that unwraps data keys. Only restore and decrypt hold one.
 *
 * @example
 * ```ts
 * const identity: Identity = await loadIdentity('private.pem', { passphrase });
 * ```
 */
export interface Identity {
  /** {@link keyIdOf} of the public half, so it matches the recipient's key id. */
  keyId: string;
  privateKey: KeyObject;
  bits: number;
}

/**
 * The replicator's Ed25519 signing key pair.
 *
 * @example
 * ```ts
 * const signingKey: SigningKey = await loadSigningKey('keys/signing.pem');
 * ```
 */
export interface SigningKey {
  /** {@link keyIdOf} of the public half. */
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * The public half of a signing key, used to verify segments and checkpoints.
 *
 * @example
 * ```ts
 * const verifyKey: VerifyKey = await loadVerifyKey('keys/signing.pub');
 * ```
 */
export interface VerifyKey {
  keyId: string;
  publicKey: KeyObject;
}
