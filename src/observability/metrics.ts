import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CaptureStatus } from '../capture/capture-source.js';
import { positionValue } from '../change/change.js';

/** Prefix of every metric name. */
export const METRIC_PREFIX = 'crypto_replicator_';

/** What the metrics read at scrape time from the running replicator. */
export interface MetricsSnapshot {
  mode?: string;
  source?: CaptureStatus;
  lastStoredSequence?: number;
  lastAcknowledgedPosition?: string;
  /** Transactions received but not yet acknowledged. */
  pendingTransactions?: number;
  /** When the oldest store request in flight started; absent while none is. */
  storePutInFlightSince?: Date;
}

/**
 * The replicator's Prometheus metrics in a registry of their own (docs/METRICS.md lists them).
 * The pipeline counts events as they happen; gauges read a snapshot at scrape time.
 *
 * @example
 * ```ts
 * const metrics = new ReplicatorMetrics();
 * metrics.segmentsStored.inc();
 * const text = await metrics.registry.metrics();
 * ```
 */
export class ReplicatorMetrics {
  readonly registry = new Registry();
  readonly changesCaptured: Counter;
  readonly transactionsCaptured: Counter;
  readonly changesStored: Counter;
  readonly segmentsStored: Counter;
  readonly bytesStored: Counter;
  readonly checkpointsStored: Counter;
  readonly storeErrors: Counter;
  readonly storeRetries: Counter;
  readonly storeSeconds: Histogram;
  readonly commitToStoredSeconds: Histogram;
  #snapshot: () => MetricsSnapshot = () => ({});

  constructor() {
    const registers = [this.registry];
    const counter = (name: string, help: string) =>
      new Counter({ name: METRIC_PREFIX + name, help, registers });

    this.changesCaptured = counter('changes_captured_total', 'Row changes received from capture');
    this.transactionsCaptured = counter(
      'transactions_captured_total',
      'Committed transactions received from capture',
    );
    this.changesStored = counter(
      'changes_stored_total',
      'Row changes durably stored (sealed in a stored segment or envelope)',
    );
    this.segmentsStored = counter(
      'segments_stored_total',
      'Segments (v2) or envelopes (v1) durably stored',
    );
    this.bytesStored = counter('stored_bytes_total', 'Bytes of sealed objects durably stored');
    this.checkpointsStored = counter('checkpoints_stored_total', 'Signed checkpoints stored');
    this.storeErrors = counter('store_errors_total', 'Store operations that failed');
    this.storeRetries = counter('store_retries_total', 'Store operations retried after a failure');
    this.storeSeconds = new Histogram({
      name: `${METRIC_PREFIX}store_put_seconds`,
      help: 'Time to store one batch durably, retries included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.commitToStoredSeconds = new Histogram({
      name: `${METRIC_PREFIX}commit_to_stored_seconds`,
      help: 'Time from a transaction commit to its segment being stored',
      buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.#gauges(registers);
  }

  /** Give the gauges their source of figures, read at each scrape. */
  bind(snapshot: () => MetricsSnapshot): void {
    this.#snapshot = snapshot;
  }

  #gauges(registers: Registry[]): void {
    const metrics = this;
    const gauge = (name: string, help: string, read: (s: MetricsSnapshot) => number | undefined) =>
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        registers,
        collect() {
          const value = read(metrics.#snapshot());
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });

    gauge('capture_connected', '1 while the capture source is connected to PostgreSQL', (s) =>
      s.source === undefined ? undefined : s.source.connected ? 1 : 0,
    );
    gauge(
      'lag_seconds',
      'Seconds between the newest received commit and now',
      (s) => s.source?.lagSeconds,
    );
    gauge('lag_bytes', 'logical: bytes of WAL the replication slot retains', (s) =>
      s.mode === 'logical' ? s.source?.backlog : undefined,
    );
    gauge('outbox_rows', 'outbox: change rows waiting in the outbox table', (s) =>
      s.mode === 'outbox' ? s.source?.backlog : undefined,
    );
    gauge(
      'spool_depth',
      'notify: changes heard and not yet stored (in the local spool, or waiting to be written to it)',
      (s) => (s.mode === 'notify' ? s.source?.backlog : undefined),
    );
    gauge(
      'pending_transactions',
      'Transactions received and not yet acknowledged',
      (s) => s.pendingTransactions,
    );
    gauge(
      'store_request_age_seconds',
      'Seconds the oldest store request in flight has been waiting (0 when none)',
      (s) =>
        s.storePutInFlightSince === undefined
          ? 0
          : Math.max(0, (Date.now() - s.storePutInFlightSince.getTime()) / 1000),
    );
    gauge(
      'last_stored_sequence',
      'Sequence (v2) or counter (v1) of the last stored object',
      (s) => s.lastStoredSequence,
    );
    gauge(
      'last_acknowledged_position',
      'Last position acknowledged to the source, as a number',
      (s) =>
        s.lastAcknowledgedPosition === undefined
          ? undefined
          : Number(positionValue(s.lastAcknowledgedPosition)),
    );
  }
}
