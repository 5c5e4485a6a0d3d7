import type { Transaction } from '../change/change.js';

/**
 * The narrow interface between capture (notify, outbox, logical) and the replicator pipeline.
 *
 * The pipeline pulls committed transactions in commit order, seals and stores them, and only
 * then calls {@link CaptureSource.acknowledge} with the position of the last stored
 * transaction. A source must not let the database forget a change before it is acknowledged:
 * the logical slot's confirmed flush position, the outbox rows, and the notify spool all
 * advance only there.
 *
 * @example
 * ```ts
 * await source.start();
 * for await (const tx of source.transactions()) {
 *   await storeSomewhereDurably(tx);
 *   await source.acknowledge(tx.position);
 * }
 * ```
 */
export interface CaptureSource {
  readonly mode: CaptureMode;

  /** Connect, check what the mode needs is installed, and emit schema records first. */
  start(): Promise<void>;

  /**
   * Committed transactions in commit order. Memory stays bounded: the source stops reading from
   * the database while the consumer is behind. Ends after {@link CaptureSource.stop}.
   */
  transactions(): AsyncIterable<Transaction>;

  /** Everything up to and including `position` is durably stored and may be released. */
  acknowledge(position: string): Promise<void>;

  /** Stop reading; resolves when connections are closed. Unacknowledged work stays in the source. */
  stop(): Promise<void>;

  /** Figures for metrics and health: lag, last received and acknowledged positions. */
  status(): CaptureStatus;
}

export type CaptureMode = 'notify' | 'outbox' | 'logical';

export interface CaptureStatus {
  connected: boolean;
  /** Last position received from the source. */
  receivedPosition?: string;
  /** Last position acknowledged to the source. */
  acknowledgedPosition?: string;
  /** Bytes of WAL the slot retains (logical), rows waiting in the outbox, or spooled changes. */
  backlog?: number;
  /** Seconds between the newest received commit and now. */
  lagSeconds?: number;
  /** Set while the source is failing, with a short reason (no row data). */
  problem?: string;
}
