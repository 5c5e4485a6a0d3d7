import type { ChangeRecord, SchemaRecord, Transaction } from '../change/change.js';

/** Bytes counted for a transaction's own fields (xid, commit time, position, JSON framing). */
const TRANSACTION_OVERHEAD_BYTES = 160;

/** A group of whole transactions (or parts of one large transaction) that becomes one segment. */
export interface Batch {
  transactions: Transaction[];
  /** Estimated plaintext bytes: the JSON size of the transactions. */
  bytes: number;
  /** Change records (not schema records) in the batch. */
  changes: number;
  /**
   * Position to acknowledge once this batch is stored: that of its last complete transaction.
   * Undefined when the batch holds only a part of a transaction that continues.
   */
  ackPosition?: string;
  /** Time the first transaction was added (ms since epoch), for the flush deadline. */
  openedAt: number;
}

export interface BatcherOptions {
  /** Cut a batch before it would exceed this many estimated plaintext bytes. */
  maxBytes: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Groups transactions into batches under a size limit, cutting only between transactions. A
 * transaction larger than one batch is split into parts; every part but the last carries
 * `continues: true`, and all parts keep the transaction's xid, commit time and position.
 *
 * @example
 * ```ts
 * const batcher = new Batcher({ maxBytes: 4 * 1024 * 1024 });
 * for (const full of batcher.add(tx)) await seal(full);
 * const rest = batcher.take(); // on the flush timer
 * ```
 */
export class Batcher {
  readonly #maxBytes: number;
  readonly #now: () => number;
  #current: Batch | undefined;

  constructor(options: BatcherOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError('Batcher: maxBytes must be positive');
    this.#maxBytes = options.maxBytes;
    this.#now = options.now ?? Date.now;
  }

  /** The open batch, if any transaction is waiting. */
  get pending(): Readonly<Batch> | undefined {
    return this.#current;
  }

  /** Add one committed transaction; returns the batches it filled, in order, ready to seal. */
  add(tx: Transaction): Batch[] {
    const full: Batch[] = [];
    const size = transactionBytes(tx);

    // The usual case: the transaction fits in the open batch.
    if (this.#current !== undefined && this.#current.bytes + size > this.#maxBytes) {
      full.push(this.#cut());
    }
    if (size <= this.#maxBytes) {
      this.#append(tx, size);
      return full;
    }

    // Too large for any batch: split its records into parts that each fill one batch.
    const parts = splitTransaction(tx, this.#maxBytes);
    for (const [index, part] of parts.entries()) {
      this.#append(part, transactionBytes(part));
      if (index < parts.length - 1) full.push(this.#cut());
    }
    return full;
  }

  /** Close and return the open batch (flush timer, shutdown); undefined when empty. */
  take(): Batch | undefined {
    return this.#current === undefined ? undefined : this.#cut();
  }

  #append(tx: Transaction, size: number): void {
    if (this.#current === undefined) {
      this.#current = { transactions: [], bytes: 0, changes: 0, openedAt: this.#now() };
    }
    const batch = this.#current;
    batch.transactions.push(tx);
    batch.bytes += size;
    batch.changes += countChanges(tx.records);
    if (tx.continues !== true) batch.ackPosition = tx.position;
  }

  #cut(): Batch {
    const batch = this.#current!;
    this.#current = undefined;
    return batch;
  }
}

/**
 * Split a transaction's records into parts whose estimated size stays under `maxBytes` (a single
 * record larger than that becomes a part of its own). All parts but the last continue.
 *
 * @example
 * ```ts
 * const parts = splitTransaction(hugeTx, 1 << 20);
 * parts.at(-1)?.continues; // => undefined
 * ```
 */
export function splitTransaction(tx: Transaction, maxBytes: number): Transaction[] {
  const parts: Transaction[] = [];
  let records: Transaction['records'] = [];
  let bytes = TRANSACTION_OVERHEAD_BYTES;

  // Fill each part up to the limit, record by record, in commit order.
  for (const record of tx.records) {
    const size = recordBytes(record);
    if (records.length > 0 && bytes + size > maxBytes) {
      parts.push({ ...tx, records, continues: true });
      records = [];
      bytes = TRANSACTION_OVERHEAD_BYTES;
    }
    records.push(record);
    bytes += size;
  }

  // The last part ends the transaction; it keeps what the original said about continuing.
  const last: Transaction = { ...tx, records };
  if (tx.continues === true) last.continues = true;
  else delete last.continues;
  parts.push(last);
  return parts;
}

/**
 * Estimated plaintext bytes of a transaction: its records' JSON size plus a fixed overhead.
 *
 * @example
 * ```ts
 * transactionBytes({ xid: '1', commitTime, position: '1', records: [] }); // => 160
 * ```
 */
export function transactionBytes(tx: Transaction): number {
  let bytes = TRANSACTION_OVERHEAD_BYTES;
  for (const record of tx.records) bytes += recordBytes(record);
  return bytes;
}

/** Bytes of JSON framing per record beside its rows: kind, op, table, braces. */
const RECORD_OVERHEAD_BYTES = 96;
/** Bytes of JSON framing per column: two quotes around the name and value, colon, comma. */
const COLUMN_OVERHEAD_BYTES = 6;
/** Characters that JSON writes as themselves, one byte each: printable ASCII but `"` and `\`. */
const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

// NOTE: serialising every record just to measure it cost as much as sealing the segment; this
// sums string lengths and serialises only values with characters JSON escapes or encodes in
// several bytes, so the figure stays exact for values and close for the framing.
function recordBytes(record: ChangeRecord | SchemaRecord): number {
  if (record.kind === 'schema') return Buffer.byteLength(JSON.stringify(record), 'utf8') + 1;
  let bytes = RECORD_OVERHEAD_BYTES + textBytes(record.table.schema) + textBytes(record.table.name);
  if (record.new !== undefined) bytes += rowBytes(record.new);
  if (record.old !== undefined) bytes += rowBytes(record.old);
  if (record.unchanged !== undefined) bytes += textBytes(JSON.stringify(record.unchanged));
  if (record.tables !== undefined) bytes += textBytes(JSON.stringify(record.tables));
  return bytes;
}

function rowBytes(row: Record<string, string | null>): number {
  let bytes = 2;
  for (const column in row) {
    const value = row[column] ?? null;
    bytes += COLUMN_OVERHEAD_BYTES + textBytes(column) + (value === null ? 4 : textBytes(value));
  }
  return bytes;
}

function textBytes(text: string): number {
  return PLAIN_JSON.test(text) ? text.length : Buffer.byteLength(JSON.stringify(text), 'utf8');
}

function countChanges(records: Transaction['records']): number {
  let changes = 0;
  for (const record of records) if (record.kind === 'change') changes++;
  return changes;
}
