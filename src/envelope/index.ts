export { decodeCanonicalBase64 } from './canonical-base64.js';
export {
  ENVELOPE_FIELDS,
  EncryptedEnvelope,
  type EnvelopeObject,
} from './encrypted-envelope.js';
export { HybridDecryptor, type HybridDecryptorSource } from './hybrid-decryptor.js';
export { HybridEncryptor, type HybridEncryptorSource } from './hybrid-encryptor.js';
