import type { Transaction } from '../change/change.js';
import { decodeTransactions, encodeTransactions } from './payload-codec.js';
import type { PayloadEncodingName } from './segment-constants.js';
import { decodeTextFields, encodeTextFields, readTextFields } from './text-fields-codec.js';

/** A serialised payload and the encoding its header must name. */
export interface EncodedPayload {
  encoding: PayloadEncodingName;
  bytes: Buffer;
}

/**
 * Serialise transactions as a segment payload in the writer's encoding: text fields
 * (docs/FORMAT.md 2.5.2), or JSON lines (2.5.1) for a batch holding a string text fields cannot
 * carry. Throws TypeError on a value outside the change model.
 *
 * @example
 * ```ts
 * const { encoding, bytes } = encodePayload(transactions); // encoding === 'text-fields'
 * ```
 */
export function encodePayload(transactions: readonly Transaction[]): EncodedPayload {
  const bytes = encodeTextFields(transactions);
  if (bytes !== undefined) return { encoding: 'text-fields', bytes };
  // NOTE: U+0000 and unpaired surrogates never come from PostgreSQL text, but the change model
  // allows any string; JSON escapes them, so such a batch is sealed rather than refused.
  return { encoding: 'json-lines', bytes: encodeTransactions(transactions) };
}

/**
 * Parse a segment payload in the encoding its header names. Throws TypeError saying what is
 * wrong and where, without row data.
 *
 * @example
 * ```ts
 * decodePayload(bytes, header.payloadEncoding); // => transactions
 * ```
 */
export function decodePayload(bytes: Buffer, encoding: PayloadEncodingName): Transaction[] {
  return encoding === 'text-fields' ? decodeTextFields(bytes) : decodeTransactions(bytes);
}

/**
 * Parse a segment payload one transaction at a time where its encoding allows (text fields;
 * JSON lines are parsed at once). Throws TypeError as {@link decodePayload} does, either here
 * (whole-payload checks) or while iterating (a malformed transaction when it is reached).
 *
 * @example
 * ```ts
 * for (const tx of readPayload(bytes, header.payloadEncoding)) apply(tx);
 * ```
 */
export function readPayload(bytes: Buffer, encoding: PayloadEncodingName): Iterable<Transaction> {
  return encoding === 'text-fields' ? readTextFields(bytes) : decodeTransactions(bytes);
}
