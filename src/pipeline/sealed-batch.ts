import type { Batch } from './batcher.js';

/** One object to put in the store. */
export interface StoreObject {
  name: string;
  bytes: Uint8Array;
}

/** A batch after sealing: the objects to store, and what storing them advances. */
export interface SealedBatch {
  batch: Batch;
  /** Objects in the order they must be stored (v2: one segment; v1: one envelope per change). */
  objects: StoreObject[];
  /** v2: the segment's sequence; v1: the counter of the last envelope. */
  sequence: number;
  /** v2: the segment's hash (the next segment's previous hash); v1: unchanged head. */
  headHash: Buffer;
  /** Total bytes of `objects`. */
  bytes: number;
}

/** Turns batches into store objects, advancing the stream head as it goes. */
export interface BatchSealer {
  /** Seal one batch; the head advances at once (storing happens in the same order). */
  seal(batch: Batch): SealedBatch;
  /** A signed checkpoint naming the given stored head, when the format has checkpoints. */
  checkpoint?(sequence: number, headHash: Buffer): StoreObject;
}

/**
 * Pad a counter or sequence to the 20 digits object names use, so names sort in number order.
 *
 * @example
 * ```ts
 * pad20(42); // => '00000000000000000042'
 * ```
 */
export function pad20(value: number): string {
  return String(value).padStart(20, '0');
}
