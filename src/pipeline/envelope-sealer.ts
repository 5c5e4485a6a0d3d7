import type { ChangeRecord } from '../change/change.js';
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
 * single recipient, holding the row as JSON. Schema records have no place in v1 and are not
 * written. The data is the new row for INSERT and UPDATE, the old row (or its key) for DELETE,
 * and `{ "tables": [...] }` for TRUNCATE.
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
        if (record.kind !== 'change') continue;
        const envelope = this.#encryptor.encrypt(envelopeData(record), {
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
}

/** The seed's `table` field: the bare name in schema `public`, else `schema.name`. */
function envelopeTable(record: ChangeRecord): string {
  const { schema, name } = record.table;
  return schema === 'public' ? name : `${schema}.${name}`;
}

function envelopeData(record: ChangeRecord): unknown {
  if (record.op === 'TRUNCATE') {
    return { tables: (record.tables ?? [record.table]).map((t) => `${t.schema}.${t.name}`) };
  }
  if (record.op === 'DELETE') return record.old ?? {};
  return record.new ?? {};
}
