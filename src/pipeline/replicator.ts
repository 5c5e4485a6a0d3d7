import type { CaptureSource, CaptureStatus } from '../capture/capture-source.js';
import type { Transaction } from '../change/change.js';
import { ReplicatorError, StoreUnavailableError, UsageError } from '../errors.js';
import type { Recipient, SigningKey } from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { HealthInput } from '../observability/health.js';
import type { MetricsSnapshot, ReplicatorMetrics } from '../observability/metrics.js';
import { MAX_SEGMENT_PLAINTEXT_BYTES } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { BatchWriter } from './batch-writer.js';
import { Batcher } from './batcher.js';
import { isLocalDiskError, localDiskError } from './local-disk.js';
import { nextOrDeadline } from './next-or-deadline.js';
import { openStream } from './open-stream.js';
import type { StateLock } from './state-lock.js';

/** Default longest wait before a batch is sealed, in ms. */
export const DEFAULT_FLUSH_INTERVAL_MS = 250;
/** Default segment plaintext cap, in bytes. */
export const DEFAULT_MAX_SEGMENT_BYTES = 4 * 1024 * 1024;
/** Default least time between checkpoints, in ms. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 10_000;
/** Default time a graceful stop waits for a failing store before giving up, in ms. */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000;
/** How often the replicator samples the source's status and writes due checkpoints, in ms. */
const WATCH_INTERVAL_MS = 1_000;

export interface ReplicatorOptions {
  source: CaptureSource;
  store: ObjectStore;
  /** Recovery public keys: v2 seals for all of them, v1 for the first. At least one. */
  recipients: Recipient[];
  /** v2 signing key; when absent, one is made once in the state folder. */
  signingKey?: SigningKey;
  stateDir: string;
  format?: 'v1' | 'v2';
  flushIntervalMs?: number;
  maxSegmentBytes?: number;
  /** Least time between checkpoints in ms; 0 writes one after every segment. */
  checkpointIntervalMs?: number;
  /** How long `stop()` keeps retrying a failing store before giving up. */
  stopTimeoutMs?: number;
  logger?: Logger;
  metrics?: ReplicatorMetrics;
}

/** Lifecycle and figures of a replicator, for the CLI, metrics and health checks. */
export interface ReplicatorStatus extends HealthInput {
  mode: string;
  format: 'v1' | 'v2';
  streamId?: string;
  lastSequence?: number;
  lastAcknowledgedPosition?: string;
  /** Transactions (or parts) received and not yet stored. */
  pendingTransactions: number;
  source?: CaptureStatus;
}

/**
 * Follows a capture source into a store: batch by size and time, cut on transaction boundaries,
 * seal (v2 segments or v1 envelopes), store, checkpoint, and only then acknowledge to the source.
 * Holds an exclusive lock on its state folder while it runs.
 *
 * @example
 * ```ts
 * const replicator = new Replicator({ source, store, recipients, stateDir: './state' });
 * await replicator.start();
 * process.once('SIGTERM', () => void replicator.stop());
 * await replicator.finished;
 * ```
 */
export class Replicator {
  readonly #options: ReplicatorOptions;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #phase: HealthInput['state'] = 'idle';
  #error: string | undefined;
  #lock: StateLock | undefined;
  #writer: BatchWriter | undefined;
  #batcher: Batcher;
  #received = 0;
  #disconnectedSince: Date | undefined;
  #startStoreFailingSince: Date | undefined;
  #watch: NodeJS.Timeout | undefined;
  #finished: Promise<void> | undefined;
  #starting: Promise<void> | undefined;

  constructor(options: ReplicatorOptions) {
    if (options.recipients.length === 0) {
      throw new UsageError('start replicator: no recipient public key', {
        hint: 'pass --recipient PUB.pem; a recovery key pair is made with "crypto-replicator keygen"',
      });
    }
    const maxBytes = options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    if (maxBytes > MAX_SEGMENT_PLAINTEXT_BYTES) {
      throw new UsageError(
        `invalid --max-segment-bytes "${maxBytes}": expected at most ${MAX_SEGMENT_PLAINTEXT_BYTES}`,
      );
    }
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#batcher = new Batcher({ maxBytes });
  }

  /** Resolves when the replicator has stopped; rejects with the error that stopped it. */
  get finished(): Promise<void> {
    return this.#finished ?? Promise.resolve();
  }

  /**
   * Lock the state folder, recover the stream head (from the state file and the store), start
   * the source and begin replicating. Resolves once running.
   */
  start(): Promise<void> {
    if (this.#phase !== 'idle') throw new Error('Replicator.start: already started');
    this.#phase = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { source, metrics } = this.#options;

    // Lock, state, keys and head; the source starts only once all of them are in order.
    try {
      const stream = await openStream({
        ...this.#options,
        logger: this.#log,
        signal: this.#stop.signal,
        onStoreAttempt: (error) => {
          if (error === undefined) this.#startStoreFailingSince = undefined;
          else this.#startStoreFailingSince ??= new Date();
        },
      });
      this.#lock = stream.lock;
      this.#writer = new BatchWriter({
        store: this.#options.store,
        sealer: stream.sealer,
        source,
        stateDir: this.#options.stateDir,
        state: stream.state,
        journal: stream.journal,
        checkpointIntervalMs: this.#options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
        logger: this.#log,
        metrics,
        onFailure: () => this.#stop.abort(),
      });
      await source.start();
    } catch (caught) {
      await this.#lock?.release();
      const error = isLocalDiskError(caught)
        ? localDiskError(caught.path ?? this.#options.stateDir, caught)
        : caught;
      // Stopped while the store was still unreachable at start: a clean stop, not a failure.
      if (this.#stop.signal.aborted && !(error instanceof ReplicatorError)) {
        this.#phase = 'stopped';
        this.#log.info('replicator stopped before it started');
        return;
      }
      this.#phase = 'failed';
      this.#error = (error as Error).message;
      throw error;
    }

    // Run in the background; `finished` reports the end.
    metrics?.bind(() => this.#metricsSnapshot());
    this.#watch = setInterval(() => this.#onWatch(), WATCH_INTERVAL_MS);
    this.#watch.unref();
    this.#phase = 'running';
    this.#finished = this.#run();
    this.#finished.catch(() => {});
  }

  /**
   * Stop taking changes, store and acknowledge what was received, stop the source, release the
   * lock. A store still failing after `stopTimeoutMs` is given up on (nothing acknowledged).
   */
  async stop(): Promise<void> {
    if (this.#phase === 'starting') {
      this.#stop.abort();
      await this.#starting?.catch(() => {});
    }
    if (this.#phase !== 'running') return this.finished.catch(() => {});
    this.#phase = 'stopping';
    this.#stop.abort();
    const timeoutMs = this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const giveUp = setTimeout(() => {
      this.#writer?.abort(
        new StoreUnavailableError(
          `stop replicator: store still failing after ${timeoutMs} ms, unstored changes stay in the source`,
        ),
      );
    }, timeoutMs);
    giveUp.unref();
    await this.finished.catch(() => {});
    clearTimeout(giveUp);
  }

  status(): ReplicatorStatus {
    const state = this.#writer?.state;
    return {
      ...this.health(),
      mode: this.#options.source.mode,
      format: this.#options.format ?? 'v2',
      streamId: state?.streamId,
      lastSequence: state?.lastSequence,
      lastAcknowledgedPosition: state?.lastAcknowledgedPosition,
      pendingTransactions: this.#received - (this.#writer?.storedTransactions ?? 0),
      source: this.#phase === 'idle' ? undefined : this.#options.source.status(),
    };
  }

  /** The figures health checks need (see observability/health.ts). */
  health(): HealthInput {
    // The oldest change not yet stored: first in the writer's queue, else in the open batch.
    const oldest =
      this.#writer?.inFlight[0]?.batch.transactions[0] ?? this.#batcher.pending?.transactions[0];
    const committed = oldest === undefined ? Number.NaN : Date.parse(oldest.commitTime);
    const unstoredSeconds = Number.isFinite(committed)
      ? Math.max(0, (Date.now() - committed) / 1000)
      : 0;
    return {
      state: this.#phase,
      error: this.#error,
      storeFailingSince: this.#writer?.storeFailingSince ?? this.#startStoreFailingSince,
      storePutInFlightSince: this.#writer?.storePutInFlightSince,
      captureDisconnectedSince: this.#disconnectedSince,
      unstoredSeconds,
    };
  }

  async #run(): Promise<void> {
    const { source } = this.#options;
    const writer = this.#writer!;
    const flushIntervalMs = this.#options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    const iterator = source.transactions()[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<Transaction>> | undefined;
    let failure: unknown;

    // Read: pull transactions while the writer has room; cut on size or on the flush deadline.
    try {
      for (;;) {
        next ??= iterator.next();
        const opened = this.#batcher.pending?.openedAt;
        const deadline = opened === undefined ? undefined : opened + flushIntervalMs;
        const outcome = await nextOrDeadline(next, deadline, this.#stop.signal);
        if (outcome.kind === 'stop') break;
        if (outcome.kind === 'flush') {
          await this.#enqueue(this.#batcher.take());
          continue;
        }
        next = undefined;
        if (outcome.result.done) break;
        this.#count(outcome.result.value);
        for (const batch of this.#batcher.add(outcome.result.value)) await this.#enqueue(batch);
      }
    } catch (error) {
      // NOTE: a disk failure the capture source did not wait out (notify waits out one while
      // appending to its spool, not while writing its snapshot marker) is named in one line.
      failure = isLocalDiskError(error)
        ? localDiskError(error.path ?? `the capture spool of ${source.mode} mode`, error)
        : error;
    }

    // Shut down: store what was received, acknowledge, then let the source go.
    try {
      if (failure === undefined || writer.failure === undefined) {
        await this.#enqueue(this.#batcher.take());
        await writer.drain();
      }
    } catch (error) {
      failure ??= error;
    }
    await this.#shutdown(failure);
  }

  async #shutdown(outcome: unknown): Promise<void> {
    clearInterval(this.#watch);
    const failure = isLocalDiskError(outcome)
      ? localDiskError(outcome.path ?? this.#options.stateDir, outcome)
      : outcome;
    await this.#options.source.stop().catch((error: Error) => {
      this.#log.warn({ error: error.message }, 'stopping the capture source failed');
    });
    await this.#lock?.release();
    if (failure !== undefined) {
      this.#phase = 'failed';
      this.#error = (failure as Error).message;
      this.#log.error({ error: this.#error }, 'replicator stopped by an error');
      throw failure;
    }
    this.#phase = 'stopped';
    const state = this.#writer?.state;
    this.#log.info(
      { lastSequence: state?.lastSequence, position: state?.lastAcknowledgedPosition },
      'replicator stopped',
    );
  }

  async #enqueue(batch: ReturnType<Batcher['take']>): Promise<void> {
    if (batch === undefined) return;
    await this.#writer!.enqueue(batch);
  }

  #count(tx: Transaction): void {
    this.#received += 1;
    const metrics = this.#options.metrics;
    if (metrics === undefined) return;
    metrics.transactionsCaptured.inc();
    let changes = 0;
    for (const record of tx.records) if (record.kind === 'change') changes++;
    metrics.changesCaptured.inc(changes);
  }

  #onWatch(): void {
    const status = this.#options.source.status();
    if (!status.connected) this.#disconnectedSince ??= new Date();
    else this.#disconnectedSince = undefined;
    void this.#writer?.tick();
  }

  #metricsSnapshot(): MetricsSnapshot {
    const status = this.status();
    return {
      mode: status.mode,
      source: status.source,
      lastStoredSequence: status.lastSequence,
      lastAcknowledgedPosition: status.lastAcknowledgedPosition,
      pendingTransactions: status.pendingTransactions,
      storePutInFlightSince: status.storePutInFlightSince,
    };
  }
}
