import { join } from 'node:path';
import type { CaptureSource } from '../capture/capture-source.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { ReplicatorMetrics } from '../observability/metrics.js';
import type { ObjectStore } from '../store/store.js';
import type { Batch } from './batcher.js';
import { retryLocalWrite } from './local-disk.js';
import type { BatchSealer, SealedBatch } from './sealed-batch.js';
import { JOURNAL_DIR_NAME, type SegmentJournal } from './segment-journal.js';
import { type ReplicatorState, STATE_FILE_NAME, writeState } from './state-file.js';
import { StorePutter } from './store-putter.js';

/** Sealed batches waiting or being stored at once; the reader waits beyond this. */
export const DEFAULT_MAX_IN_FLIGHT = 2;
/** v1 envelopes stored concurrently within one batch. */
const ENVELOPE_PUT_CONCURRENCY = 8;

export interface BatchWriterOptions {
  store: ObjectStore;
  sealer: BatchSealer;
  source: CaptureSource;
  stateDir: string;
  state: ReplicatorState;
  /** v2: sealed segments are journaled here before they are put (see SegmentJournal). */
  journal?: SegmentJournal;
  /** Least time between checkpoints in ms; 0 writes one after every segment. */
  checkpointIntervalMs: number;
  maxInFlight?: number;
  logger?: Logger;
  metrics?: ReplicatorMetrics;
  /** Called once when storing fails for good, so the reader can stop waiting for changes. */
  onFailure?: (error: unknown) => void;
}

/**
 * The durable half of the pipeline, in strict order per batch: store its objects (retrying
 * transient failures without end), write a checkpoint when one is due, acknowledge the batch's
 * last complete transaction to the source, then record the new head in the state file. Nothing
 * is acknowledged before it is stored. At most `maxInFlight` sealed batches exist at once.
 *
 * @example
 * ```ts
 * const writer = new BatchWriter({
 *   store, sealer, source, stateDir, state, checkpointIntervalMs: 0,
 * });
 * await writer.enqueue(batch); // waits while the writer is full
 * await writer.drain();
 * ```
 */
export class BatchWriter {
  readonly #options: BatchWriterOptions;
  readonly #log: Logger;
  readonly #putter: StorePutter;
  readonly #queue: SealedBatch[] = [];
  readonly #maxInFlight: number;
  #running: Promise<void> | undefined;
  #spaceWaiters: Array<() => void> = [];
  #failure: unknown;
  #checkpointedSequence: number;
  #lastCheckpointAt = 0;
  #ackBehind: string | undefined;
  #storedTransactions = 0;
  #checkpointing: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();
  #localFailingSince: Date | undefined;
  #localProblem: string | undefined;

  constructor(options: BatchWriterOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.#putter = new StorePutter({
      store: options.store,
      logger: this.#log,
      metrics: options.metrics,
    });
    this.#checkpointedSequence = options.state.lastSequence;
  }

  /** The state as last written (head, acknowledged position). */
  get state(): Readonly<ReplicatorState> {
    return this.#options.state;
  }

  /** Batches sealed and not yet stored, oldest first. */
  get inFlight(): readonly SealedBatch[] {
    return this.#queue;
  }

  /** Complete transactions stored so far (parts of a split one count once, with the last). */
  get storedTransactions(): number {
    return this.#storedTransactions;
  }

  /** Since when every store attempt has failed, while it does. */
  get storeFailingSince(): Date | undefined {
    const store = this.#putter.failingSince;
    const local = this.#localFailingSince;
    if (store === undefined || local === undefined) return store ?? local;
    return new Date(Math.min(store.getTime(), local.getTime()));
  }

  /** When the oldest store request in flight started, while one is (health: a slow store). */
  get storePutInFlightSince(): Date | undefined {
    return this.#putter.oldestPutStartedAt;
  }

  /** While a local write (state file, journal) fails: `local disk full: FILE`. */
  get localProblem(): string | undefined {
    return this.#localProblem;
  }

  /** Set once storing failed for good (a non-transient error, or aborted). */
  get failure(): unknown {
    return this.#failure;
  }

  /** Wait for room, seal the batch and queue it for storing. Throws once the writer failed. */
  async enqueue(batch: Batch): Promise<void> {
    while (this.#queue.length >= this.#maxInFlight && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
    }
    if (this.#failure !== undefined) throw this.#failure;
    this.#queue.push(this.#options.sealer.seal(batch));
    this.#kick();
  }

  /** Store everything queued, write a final checkpoint, acknowledge; rethrows a failure. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      this.#kick();
      await this.#running;
    }
    if (this.#failure !== undefined) throw this.#failure;
    await this.#checkpoint(true);
    await this.#acknowledgeBehind();
    await this.#writeState(this.#options.state);
  }

  /** Write a checkpoint if one is due and nothing is being stored (called from a timer). */
  async tick(): Promise<void> {
    if (this.#running !== undefined || this.#failure !== undefined) return;
    await this.#checkpoint(false).catch((error) => this.#fail(error));
  }

  /** Give up on storing: pending retries end, queued batches stay unacknowledged. */
  abort(reason: Error): void {
    this.#putter.abort(reason);
    this.#abort.abort(reason);
  }

  // A full or failing local disk is waited out like a store outage (see local-disk.ts).
  #local<T>(file: string, fn: () => Promise<T>): Promise<T> {
    return retryLocalWrite(file, fn, {
      signal: this.#abort.signal,
      logger: this.#log,
      onAttempt: (problem) => {
        this.#localProblem = problem;
        if (problem === undefined) this.#localFailingSince = undefined;
        else this.#localFailingSince ??= new Date();
      },
    });
  }

  #writeState(state: ReplicatorState): Promise<void> {
    const { stateDir } = this.#options;
    return this.#local(join(stateDir, STATE_FILE_NAME), () => writeState(stateDir, state));
  }

  #kick(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#loop()
      .catch((error) => this.#fail(error))
      .finally(() => {
        this.#running = undefined;
        if (this.#queue.length > 0 && this.#failure === undefined) this.#kick();
      });
  }

  #fail(error: unknown): void {
    if (this.#failure === undefined) this.#options.onFailure?.(error);
    this.#failure ??= error;
    for (const wake of this.#spaceWaiters.splice(0)) wake();
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      await this.#storeOne(this.#queue[0]!);
      this.#queue.shift();
      this.#spaceWaiters.shift()?.();
    }
  }

  async #storeOne(sealed: SealedBatch): Promise<void> {
    const { metrics, state } = this.#options;
    const { batch } = sealed;
    const started = performance.now();

    // Record the sealed batch before storing it, so a crash cannot make us seal its names anew:
    // v2 journals the segment's bytes, v1 reserves its envelope counters (gaps are harmless).
    const { journal, stateDir } = this.#options;
    const journalFile = join(stateDir, JOURNAL_DIR_NAME);
    // A v2 segment on a readable store needs neither: the store tells the head after a crash.
    if (journal !== undefined) {
      const entry = { sequence: sealed.sequence, ...sealed.objects[0]! };
      await this.#local(journalFile, () => journal.write(entry));
    } else if (state.format === 'v1') {
      await this.#writeState({ ...state, lastSequence: sealed.sequence });
    }

    // Store: every object durably, in order (v1 envelopes a few at a time).
    await this.#putter.putAll(sealed.objects, ENVELOPE_PUT_CONCURRENCY);
    metrics?.storeSeconds.observe((performance.now() - started) / 1000);
    metrics?.segmentsStored.inc(sealed.objects.length);
    metrics?.changesStored.inc(batch.changes);
    metrics?.bytesStored.inc(sealed.bytes);
    observeLatency(metrics, batch);
    for (const tx of batch.transactions) if (tx.continues !== true) this.#storedTransactions++;
    state.lastSequence = sealed.sequence;
    state.headHash = sealed.headHash.toString('hex');
    this.#log.info(
      {
        sequence: sealed.sequence,
        objects: sealed.objects.length,
        bytes: sealed.bytes,
        transactions: batch.transactions.length,
        changes: batch.changes,
      },
      state.format === 'v1' ? 'envelopes stored' : 'segment stored',
    );

    // Checkpoint when due, then release the stored changes in the source.
    await this.#checkpoint(false);
    if (batch.ackPosition !== undefined) this.#ackBehind = batch.ackPosition;
    await this.#acknowledgeBehind();
    await this.#writeState(state);
    await journal?.remove(sealed.sequence);
  }

  // One checkpoint at a time: the timer's, the writer's and the final one could otherwise race
  // and sign the same sequence twice with different times, which the store refuses.
  #checkpoint(force: boolean): Promise<void> {
    const run = this.#checkpointing.then(() => this.#checkpointNow(force));
    this.#checkpointing = run.catch(() => {});
    return run;
  }

  async #checkpointNow(force: boolean): Promise<void> {
    const { sealer, state, checkpointIntervalMs, metrics } = this.#options;
    if (sealer.checkpoint === undefined || state.lastSequence <= this.#checkpointedSequence) return;
    const due = Date.now() - this.#lastCheckpointAt >= checkpointIntervalMs;
    if (!force && !due) return;

    const headHash = Buffer.from(state.headHash, 'hex');
    const checkpoint = sealer.checkpoint(state.lastSequence, headHash);
    await this.#putter.putAll([checkpoint], 1);
    this.#checkpointedSequence = state.lastSequence;
    this.#lastCheckpointAt = Date.now();
    metrics?.checkpointsStored.inc();
    this.#log.info({ sequence: state.lastSequence }, 'checkpoint written');
  }

  // NOTE: a failed acknowledgement is not fatal: the changes are stored, acknowledgements are
  // cumulative, and the next one (or the one at shutdown) covers it. The source redelivers
  // at worst, and restore drops the duplicates by position.
  async #acknowledgeBehind(): Promise<void> {
    const position = this.#ackBehind;
    if (position === undefined) return;
    try {
      await this.#options.source.acknowledge(position);
    } catch (error) {
      this.#log.warn(
        { position, error: (error as Error).message },
        'acknowledge failed, will retry',
      );
      return;
    }
    this.#ackBehind = undefined;
    this.#options.state.lastAcknowledgedPosition = position;
    this.#log.info({ position }, 'position acknowledged');
  }
}

function observeLatency(metrics: ReplicatorMetrics | undefined, batch: Batch): void {
  if (metrics === undefined) return;
  const now = Date.now();
  for (const tx of batch.transactions) {
    if (tx.continues === true) continue;
    const committed = Date.parse(tx.commitTime);
    if (Number.isFinite(committed)) metrics.commitToStoredSeconds.observe((now - committed) / 1000);
  }
}
