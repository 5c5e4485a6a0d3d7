export { KEY_ID_BYTES, keyIdOf } from './key-id.js';
export type { Identity, Recipient, RecipientType, SigningKey, VerifyKey } from './key-types.js';
export {
  identityFromKey,
  type LoadIdentityOptions,
  loadIdentity,
  loadIdentitySync,
} from './load-identity.js';
export {
  loadRecipient,
  loadRecipientSync,
  MIN_RSA_BITS,
  recipientFromKey,
} from './load-recipient.js';
export { readPassphraseFile } from './passphrase-file.js';
export {
  ED25519_PUBLIC_KEY_BYTES,
  ed25519KeyIdOfRaw,
  generateSigningKey,
  loadSigningKey,
  loadVerifyKey,
  rawEd25519PublicKey,
  verifyKeyFromRaw,
} from './signing-key.js';
export {
  generateRecoveryKey,
  type KeyPairPaths,
  RECOVERY_KEY_BITS,
  writeKeyPair,
  writeSigningKey,
} from './write-key-pair.js';
