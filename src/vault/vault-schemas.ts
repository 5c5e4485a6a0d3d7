/**
 * JSON schemas of the vault's requests, validated by Fastify's built-in ajv. A failure answers
 * 400 naming the field, e.g. `body/tag must match pattern "^[A-Za-z0-9+/]*={0,2}$"`.
 * docs/openapi.yaml describes the same shapes.
 */

const ID = '^[A-Za-z0-9_-]{1,128}$';
/** Stream ids are what the replicator makes: 16 random bytes as 32 lowercase hex characters. */
const STREAM = '^[0-9a-f]{32}$';
const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';

/** Most envelopes one bulk request may carry (the seed's limit). */
export const MAX_BULK_ENVELOPES = 100;
/** Largest page a list request may ask for. */
export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;

/** A v1 envelope as the seed defined it. Extra fields are kept, since bytes are stored as sent. */
export const envelopeSchema = {
  type: 'object',
  required: [
    'version',
    'timestamp',
    'table',
    'operation',
    'encrypted_data',
    'encrypted_key',
    'iv',
    'tag',
  ],
  properties: {
    version: { type: 'string', const: '1.0' },
    timestamp: { type: 'string', minLength: 1, maxLength: 64 },
    table: { type: 'string', minLength: 1, maxLength: 256 },
    operation: { type: 'string', pattern: '^[A-Za-z_]{1,32}$' },
    encrypted_data: { type: 'string', pattern: BASE64 },
    encrypted_key: { type: 'string', minLength: 4, maxLength: 2048, pattern: BASE64 },
    iv: { type: 'string', minLength: 4, maxLength: 64, pattern: BASE64 },
    tag: { type: 'string', minLength: 4, maxLength: 64, pattern: BASE64 },
    key_id: { type: 'string', maxLength: 256 },
  },
} as const;

export const bulkSchema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    items: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_BULK_ENVELOPES,
      items: {
        type: 'object',
        required: ['envelope'],
        additionalProperties: false,
        properties: { id: { type: 'string', pattern: ID }, envelope: envelopeSchema },
      },
    },
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ID } },
} as const;

export const streamParams = {
  type: 'object',
  required: ['stream'],
  properties: { stream: { type: 'string', pattern: STREAM } },
} as const;

export const objectParams = {
  type: 'object',
  required: ['stream', 'seq'],
  properties: {
    stream: { type: 'string', pattern: STREAM },
    seq: { type: 'string', pattern: '^[0-9]{1,16}$' },
  },
} as const;

export const envelopeListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'string', pattern: ID },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
    fields: { type: 'string', enum: ['id', 'meta'] },
  },
} as const;

export const streamListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'string', pattern: STREAM },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
  },
} as const;

export const sequenceListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT },
  },
} as const;
