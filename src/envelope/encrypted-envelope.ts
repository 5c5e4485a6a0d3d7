import { IntegrityError } from '../errors.js';
import { decodeCanonicalBase64 } from './canonical-base64.js';

/** The envelope fields, in the seed's order; every one is a string. */
export const ENVELOPE_FIELDS = [
  'version',
  'timestamp',
  'table',
  'operation',
  'encrypted_data',
  'encrypted_key',
  'iv',
  'tag',
  'key_id',
] as const;

/** The plain-object form of a v1 envelope, as JSON holds it. */
export type EnvelopeObject = Record<(typeof ENVELOPE_FIELDS)[number], string>;

/** GCM IV and tag sizes of v1, in bytes. */
export const V1_IV_BYTES = 12;
export const V1_TAG_BYTES = 16;

/**
 * The seed's per-row envelope (format v1): AES-256-GCM ciphertext of the row's JSON, its data
 * key wrapped with RSA-OAEP-SHA256, and the table, operation and time in the clear. Fields keep
 * the seed's names and base64 text. `fromJson` checks the structure; the decryptor checks the
 * wrapped key against its modulus.
 *
 * @example
 * ```ts
 * const envelope = EncryptedEnvelope.fromJson(text);
 * envelope.table; // => 'nis2_audit_log'
 * ```
 */
export class EncryptedEnvelope {
  readonly version = '1.0';
  readonly timestamp: string;
  readonly table: string;
  readonly operation: string;
  readonly encrypted_data: string;
  readonly encrypted_key: string;
  readonly iv: string;
  readonly tag: string;
  readonly key_id: string;

  constructor(fields: Omit<EnvelopeObject, 'version'> & { version?: string }) {
    this.timestamp = fields.timestamp;
    this.table = fields.table;
    this.operation = fields.operation;
    this.encrypted_data = fields.encrypted_data;
    this.encrypted_key = fields.encrypted_key;
    this.iv = fields.iv;
    this.tag = fields.tag;
    this.key_id = fields.key_id;
  }

  /**
   * Parse an envelope from JSON text (compact or indented) or an already-parsed object.
   * Throws IntegrityError naming `name` on anything but a well-formed v1 envelope.
   *
   * @example
   * ```ts
   * const envelope = EncryptedEnvelope.fromJson(await readFile('envelope.json', 'utf8'));
   * ```
   */
  static fromJson(input: string | object, options: { name?: string } = {}): EncryptedEnvelope {
    // Guard: JSON object with exactly the v1 fields, all strings.
    const name = options.name ?? 'envelope';
    const bad = (cause: string) =>
      new IntegrityError(`read envelope "${name}": bad envelope: ${cause}`);
    let value: unknown = input;
    if (typeof input === 'string') {
      try {
        value = JSON.parse(input);
      } catch {
        throw bad('not JSON');
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw bad('not a JSON object');
    }
    const object = value as Record<string, unknown>;
    for (const field of ENVELOPE_FIELDS) {
      if (typeof object[field] !== 'string') throw bad(`field "${field}" missing or not a string`);
    }
    const extra = Object.keys(object).find(
      (key) => !(ENVELOPE_FIELDS as readonly string[]).includes(key),
    );
    if (extra !== undefined) throw bad(`unknown field "${extra.slice(0, 40)}"`);
    const fields = object as EnvelopeObject;
    if (fields.version !== '1.0') throw bad(`unsupported version "${fields.version.slice(0, 20)}"`);

    // Binary fields: canonical base64 of the right sizes.
    for (const field of ['encrypted_data', 'encrypted_key', 'iv', 'tag'] as const) {
      if (decodeCanonicalBase64(fields[field]) === undefined) {
        throw bad(`field "${field}" is not canonical padded base64`);
      }
    }
    if (decodeCanonicalBase64(fields.iv)!.length !== V1_IV_BYTES) throw bad('iv is not 12 bytes');
    if (decodeCanonicalBase64(fields.tag)!.length !== V1_TAG_BYTES)
      throw bad('tag is not 16 bytes');
    return new EncryptedEnvelope(fields);
  }

  /**
   * The envelope as a plain object with the fields in the seed's order.
   *
   * @example
   * ```ts
   * envelope.toObject().key_id; // => 'a3c1…'
   * ```
   */
  toObject(): EnvelopeObject {
    return {
      version: this.version,
      timestamp: this.timestamp,
      table: this.table,
      operation: this.operation,
      encrypted_data: this.encrypted_data,
      encrypted_key: this.encrypted_key,
      iv: this.iv,
      tag: this.tag,
      key_id: this.key_id,
    };
  }

  /**
   * The envelope as JSON: one line by default, or indented (`{ indent: 2 }`, as the seed wrote
   * envelope files).
   *
   * @example
   * ```ts
   * process.stdout.write(`${envelope.toJson()}\n`);
   * ```
   */
  toJson(options: { indent?: number } = {}): string {
    return JSON.stringify(this.toObject(), null, options.indent);
  }

  /** The decoded binary fields (valid: checked by `fromJson` or produced by the encryptor). */
  binary(): { ciphertext: Buffer; wrappedKey: Buffer; iv: Buffer; tag: Buffer } {
    return {
      ciphertext: Buffer.from(this.encrypted_data, 'base64'),
      wrappedKey: Buffer.from(this.encrypted_key, 'base64'),
      iv: Buffer.from(this.iv, 'base64'),
      tag: Buffer.from(this.tag, 'base64'),
    };
  }
}
