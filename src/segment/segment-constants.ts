/**
 * Constants of the v2 segment and checkpoint formats (docs/FORMAT.md). Sizes are in bytes.
 */

/** First four bytes of every segment: ASCII `CRSG`. */
export const SEGMENT_MAGIC = Buffer.from('CRSG', 'ascii');

/** First four bytes of every checkpoint: ASCII `CRCP`. */
export const CHECKPOINT_MAGIC = Buffer.from('CRCP', 'ascii');

/** The format version this code writes and reads. */
export const FORMAT_VERSION = 2;

/** Compression of the payload before encryption (header byte 5). */
export const Compression = {
  none: 0,
  /** Raw DEFLATE, RFC 1951 (node:zlib deflateRaw). */
  deflateRaw: 1,
  /** Brotli, RFC 7932 (node:zlib brotliCompress). */
  brotli: 2,
} as const;
export type CompressionName = keyof typeof Compression;

/** Payload encoding (header byte 6), docs/FORMAT.md 2.5. */
export const PayloadEncoding = {
  /** UTF-8 JSON lines, one transaction per line (2.5.1). */
  'json-lines': 1,
  /** NUL-terminated UTF-8 fields with per-segment table and column-list dictionaries (2.5.2). */
  'text-fields': 2,
} as const;
export type PayloadEncodingName = keyof typeof PayloadEncoding;

/** What ends every field of a text-fields payload: U+0000, one NUL byte in UTF-8. */
export const TEXT_FIELD_END = '\u0000';

/** Cipher (header byte 7): AES-256-GCM, one message, 12-byte IV, 16-byte tag. */
export const CIPHER_AES_256_GCM = 1;

/** Recipient type ids (first byte of a recipient entry). */
export const RecipientTypeId = {
  'rsa-oaep-sha256': 1,
} as const;

/** Hash a first segment names as its predecessor: 32 zero bytes. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/** Largest serialised (uncompressed) payload of one segment: 16 MiB. */
export const MAX_SEGMENT_PLAINTEXT_BYTES = 16 * 1024 * 1024;

/** Largest encrypted payload a reader accepts: the plaintext cap plus compression slack. */
export const MAX_SEGMENT_PAYLOAD_BYTES = MAX_SEGMENT_PLAINTEXT_BYTES + 64 * 1024 + 16;

/** Most recipients one segment may name. */
export const MAX_RECIPIENTS = 255;

export const STREAM_ID_BYTES = 16;
export const HASH_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** Size of the fixed part of a segment header, before the recipient entries. */
export const FIXED_HEADER_BYTES = 121;

/** Size of a checkpoint, signature included. */
export const CHECKPOINT_BYTES = 168;

/** RSA-OAEP wrapped key sizes a reader accepts: moduli of 2048 to 8192 bits. */
export const MIN_WRAPPED_KEY_BYTES = 256;
export const MAX_WRAPPED_KEY_BYTES = 1024;
