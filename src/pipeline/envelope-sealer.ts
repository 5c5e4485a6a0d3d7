import { type ChangeRecord, qualifiedName, type SchemaRecord } from '../change/change.js';
import { HybridEncryptor } from '../envelope/index.js';
import type { Recipient } from '../keys/index.js';
import type { Batch } from './batcher.js';
import { type BatchSealer, pad20, type SealedBatch, type StoreObject } from './sealed-batch.js';

/** Folder of v1 envelopes in the store. */
export const ENVELOPE_PREFIX = 'envelopes/';

/**
 * The store name of a v1 envelope: `envelopes/<stream id>-<20-digit counter>.json`, so names
 * sort in the order the replicator emitted them.
 *
 * @example
 * ```ts
 * envelopeName('3f6c…', 7); // => 'envelopes/3f6c…-00000000000000000007.json'
 * ```
 */
export function envelopeName(streamId: string, counter: number): string {
  return `${ENVELOPE_PREFIX}${streamId}-${pad20(counter)}.json`;
}

/**
 * Seals batches the original design's way (`--format v1`): one envelope per row change, for a
 * single recipient, holding the row as JSON (json and jsonb columns nested, as `row_to_json`
 * does). Schema records have no place in v1 and are not written. The data is the new row for
 * INSERT and UPDATE, the old row (or its key) for DELETE, and `{ "tables": [...] }` for TRUNCATE.
 *
 * @example
 * ```ts
 * const sealer = new EnvelopeSealer({ streamId, lastCounter: 0, recipient });
 * const sealed = sealer.seal(batch); // one object per change record
 * ```
 */
export class EnvelopeSealer implements BatchSealer {
  readonly #streamId: string;
  readonly #encryptor: HybridEncryptor;
  #counter: number;
  /** Per table, columns of type json or jsonb, whose values the seed's row_to_json nests. */
  readonly #jsonColumns = new Map<string, Set<string>>();

  constructor(options: { streamId: string; lastCounter: number; recipient: Recipient }) {
    this.#streamId = options.streamId;
    this.#encryptor = new HybridEncryptor(options.recipient);
    this.#counter = options.lastCounter;
  }

  seal(batch: Batch): SealedBatch {
    const objects: StoreObject[] = [];
    let bytes = 0;

    // One envelope per change, numbered in emit order.
    for (const tx of batch.transactions) {
      for (const record of tx.records) {
        if (record.kind === 'schema') {
          this.#learnJsonColumns(record);
          continue;
        }
        const json = this.#jsonColumns.get(qualifiedName(record.table));
        const envelope = this.#encryptor.encrypt(envelopeData(record, json), {
          table: envelopeTable(record),
          operation: record.op,
        });
        this.#counter += 1;
        const data = Buffer.from(envelope.toJson(), 'utf8');
        objects.push({ name: envelopeName(this.#streamId, this.#counter), bytes: data });
        bytes += data.length;
      }
    }
    return { batch, objects, sequence: this.#counter, headHash: Buffer.alloc(32), bytes };
  }

  #learnJsonColumns(record: SchemaRecord): void {
    const names = record.columns.filter((c) => /^jsonb?$/.test(c.type)).map((c) => c.name);
    this.#jsonColumns.set(qualifiedName(record.table), new Set(names));
  }
}

/** The seed's `table` field: the bare name in schema `public`, else `schema.name`. */
function envelopeTable(record: ChangeRecord): string {
  const { schema, name } = record.table;
  return schema === 'public' ? name : `${schema}.${name}`;
}

/**
 * The row as the seed's `row_to_json` shows it: values as PostgreSQL text, except json and
 * jsonb columns, which are nested JSON.
 */
function envelopeData(record: ChangeRecord, json: Set<string> | undefined): unknown {
  if (record.op === 'TRUNCATE') {
    return { tables: (record.tables ?? [record.table]).map((t) => `${t.schema}.${t.name}`) };
  }
  const row = (record.op === 'DELETE' ? record.old : record.new) ?? {};
  if (json === undefined || json.size === 0) return row;
  const nested: Record<string, unknown> = { ...row };
  for (const column of json) {
    const text = row[column];
    if (typeof text === 'string') nested[column] = JSON.parse(text);
  }
  return nested;
}
