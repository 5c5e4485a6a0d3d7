import type pg from 'pg';
import type { SchemaRecord, TableName, Transaction } from '../../change/change.js';
import { DatabaseError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { reconnectDelayMs, sleep } from '../backoff.js';
import type { CaptureMode, CaptureSource, CaptureStatus } from '../capture-source.js';
import { readSchemaRecord, tablesWithTrigger } from '../catalog.js';
import { CAPTURE_SCHEMA, OUTBOX_WAKE_CHANNEL, ROW_TRIGGER } from '../install-sql.js';
import { connectText, describeError } from '../text-client.js';
import { TransactionQueue } from '../transaction-queue.js';
import { checkInstalled, DRAIN_LOCK_GRACE_MS, takeDrainLock } from './outbox-checks.js';
import { DRAIN_BATCH_ROWS, drainWindowRows, stampPending } from './outbox-drain.js';
import {
  hstoreSchema,
  OUTBOX_CHANGES,
  type OutboxRow,
  outboxChangesSql,
  ShapeTracker,
} from './outbox-rows.js';
import { snapshotOutbox } from './outbox-snapshot.js';
import { holdWakeLock, releaseWakeLock } from './outbox-wake.js';

const S = CAPTURE_SCHEMA;
/** Poll this often even without a wake-up NOTIFY (one may be missed while reconnecting). */
export const OUTBOX_POLL_MS = 1_000;
/** Look again this soon when a long writer transaction kept the wake lock (see outbox-wake). */
const WAKE_RETRY_MS = 100;
/** Changes fetched per round trip while emitting stamped transactions. */
const FETCH_ROWS = 1_000;

export interface OutboxSourceOptions {
  databaseUrl: string;
  tables?: TableName[];
  snapshot: boolean;
  logger: Logger;
  /** How long to wait for the drain lock before refusing (default DRAIN_LOCK_GRACE_MS). */
  lockGraceMs?: number;
}

/**
 * Outbox capture: triggers write every change into `crypto_replicator.outbox` inside the
 * application's transaction; this source stamps committed transactions with drain positions,
 * emits them in that order, and deletes rows only when their position is acknowledged.
 *
 * @example
 * ```ts
 * const source = new OutboxCaptureSource({ databaseUrl, snapshot: true, logger });
 * await source.start();
 * ```
 */
export class OutboxCaptureSource implements CaptureSource {
  readonly mode: CaptureMode = 'outbox';
  private readonly queue = new TransactionQueue();
  private readonly abort = new AbortController();
  private client: pg.Client | undefined;
  private ackClient: pg.Client | undefined;
  private hstore = S;
  /** Rows a drain round looks at first (0: the outbox lacks the indexes; see outbox-drain.ts). */
  private windowRows = 0;
  private shapes = new ShapeTracker(() => this.connect());
  private pendingSchemas: SchemaRecord[] = [];
  private tables: TableName[] = [];
  private lastEmitted = 0n;
  private wake: (() => void) | undefined;
  private backlogCountedAt = 0;
  private woken = false;
  private loop: Promise<void> | undefined;
  /** Set while the snapshot transaction is open: acknowledgements wait (see acknowledge). */
  private deferredAck: string | undefined;
  private snapshotOpen = false;
  private snapshotChecked = false;
  private snapshotLast: bigint | undefined;
  private readonly state: CaptureStatus = { connected: false };

  constructor(private readonly options: OutboxSourceOptions) {}

  async start(): Promise<void> {
    const client = await this.connect();
    // A refused start lets go of the drain lock, so that a corrected start can take it.
    try {
      await checkInstalled(client);
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => {});
      throw error;
    }
    this.tables = this.options.tables ?? (await tablesWithTrigger(client, ROW_TRIGGER));
    for (const table of this.tables) {
      const record = await readSchemaRecord(client, table);
      this.shapes.remember(record);
      this.pendingSchemas.push(record);
    }
    this.loop = this.run().catch((error) => this.queue.fail(error));
  }

  transactions(): AsyncIterable<Transaction> {
    return this.queue;
  }

  async acknowledge(position: string): Promise<void> {
    this.state.acknowledgedPosition = position;
    // NOTE: while the snapshot transaction is open it holds row locks an ack DELETE could wait
    // on, and the pipeline waits on the ack: the delete runs when the snapshot commits.
    if (this.snapshotOpen) {
      this.deferredAck = position;
      return;
    }
    await this.deleteUpTo(position);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.close();
    this.wake?.();
    await this.loop;
    await this.client?.end().catch(() => {});
    await this.ackClient?.end().catch(() => {});
    this.state.connected = false;
  }

  status(): CaptureStatus {
    return { ...this.state };
  }

  private async deleteUpTo(position: string): Promise<void> {
    if (this.ackClient === undefined) {
      const client = await connectText(this.options.databaseUrl, 'crypto-replicator ack');
      client.on('error', () => {
        if (this.ackClient === client) this.ackClient = undefined;
      });
      this.ackClient = client;
    }
    try {
      await this.ackClient.query(`DELETE FROM ${S}.outbox WHERE position <= $1`, [position]);
      if (this.snapshotLast !== undefined && BigInt(position) >= this.snapshotLast) {
        await this.ackClient.query(
          `INSERT INTO ${S}.state (name, value) VALUES ('snapshot_done', $1)
           ON CONFLICT (name) DO NOTHING`,
          [String(this.snapshotLast)],
        );
        this.snapshotLast = undefined;
      }
    } catch (error) {
      await this.ackClient?.end().catch(() => {});
      this.ackClient = undefined;
      throw new DatabaseError(`acknowledge outbox position ${position}: ${describeError(error)}`);
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        const client = await this.connect();
        if (this.options.snapshot && !this.snapshotChecked) await this.snapshotIfNeeded(client);
        this.snapshotChecked = true;
        this.woken = false;
        const stamped = await stampPending(client, DRAIN_BATCH_ROWS, this.windowRows);
        const emitted = await this.emitStamped(client);
        attempt = 0;
        this.state.problem = undefined;
        if (stamped === 0 && emitted === 0) await this.idle(client);
      } catch (error) {
        if (this.abort.signal.aborted) return;
        if (
          error instanceof DatabaseError &&
          error.code === 'E_DATABASE' &&
          /another/.test(error.message)
        ) {
          this.state.problem = error.message;
        } else {
          this.state.problem = `outbox drain: ${describeError(error)}`;
        }
        this.state.connected = false;
        this.options.logger.warn({ attempt, problem: this.state.problem }, 'capture reconnecting');
        await this.client?.end().catch(() => {});
        this.client = undefined;
        await sleep(reconnectDelayMs(attempt++), this.abort.signal);
      }
    }
  }

  private async snapshotIfNeeded(client: pg.Client): Promise<void> {
    const done = await client.query(`SELECT 1 FROM ${S}.state WHERE name = 'snapshot_done'`);
    if (done.rows.length > 0) return;
    this.snapshotOpen = true;
    try {
      const last = await snapshotOutbox({
        client,
        tables: this.tables,
        emit: (tx) =>
          this.queue.push({ ...tx, records: [...this.pendingSchemas.splice(0), ...tx.records] }),
        aborted: () => this.abort.signal.aborted,
      });
      this.snapshotLast = last;
      if (last !== undefined) this.lastEmitted = last;
      this.options.logger.info({ tables: this.tables.length }, 'initial snapshot read');
    } finally {
      this.snapshotOpen = false;
    }
    if (this.deferredAck !== undefined) await this.deleteUpTo(this.deferredAck);
    if (this.snapshotLast === undefined) {
      await client.query(
        `INSERT INTO ${S}.state (name, value) VALUES ('snapshot_done', '0') ON CONFLICT DO NOTHING`,
      );
    }
  }

  /** Emit stamped transactions not emitted yet, in position order, through a cursor. */
  private async emitStamped(client: pg.Client): Promise<number> {
    let emitted = 0;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      await client.query(
        `DECLARE crypto_replicator_drain NO SCROLL CURSOR FOR
           ${outboxChangesSql(this.hstore, S, this.lastEmitted)}`,
      );
      let group: OutboxRow[] = [];
      for (;;) {
        const page = await client.query<OutboxRow>(
          `FETCH ${FETCH_ROWS} FROM crypto_replicator_drain`,
        );
        for (const row of page.rows) {
          if (group.length > 0 && group[0]!.position !== row.position) {
            await this.emit(group);
            emitted++;
            group = [];
          }
          group.push(row);
        }
        if (page.rows.length < FETCH_ROWS) break;
      }
      if (group.length > 0) {
        await this.emit(group);
        emitted++;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    return emitted;
  }

  private async emit(rows: OutboxRow[]): Promise<void> {
    const position = rows[0]!.position!;
    const records = await this.shapes.toRecords(rows);
    // Without track_commit_timestamp the time of the transaction's last change stands in.
    const commitTime = rows
      .map((row) => row.changed_at)
      .sort()
      .at(-1)!;
    this.lastEmitted = BigInt(position);
    this.state.receivedPosition = position;
    this.state.lagSeconds = Math.max(0, (Date.now() - Date.parse(commitTime)) / 1000);
    await this.queue.push({
      xid: rows[0]!.xid,
      commitTime,
      position,
      records: [...this.pendingSchemas.splice(0), ...records],
    });
  }

  /** Wait for a wake-up NOTIFY, the poll interval, or stop; refresh the backlog figure. */
  private async idle(client: pg.Client): Promise<void> {
    // NOTE: at most once per poll interval: a long writer transaction makes idle() run every
    // WAKE_RETRY_MS, and counting a large outbox that often would cost more than it tells.
    if (Date.now() - this.backlogCountedAt >= OUTBOX_POLL_MS) {
      const backlog = await client.query<{ n: string }>(
        `SELECT coalesce(sum(${OUTBOX_CHANGES}), 0) AS n FROM ${S}.outbox`,
      );
      this.state.backlog = Number(backlog.rows[0]?.n ?? 0);
      this.backlogCountedAt = Date.now();
    }
    // A wake-up that arrived while draining counts: drain again at once.
    if (this.woken) {
      this.woken = false;
      return;
    }

    // Ask writers for wake-ups, then look once more: a writer that skipped one has committed.
    const asked = await holdWakeLock(client);
    try {
      if (asked && (await stampPending(client, DRAIN_BATCH_ROWS, this.windowRows)) > 0) return;
      if (this.woken) {
        this.woken = false;
        return;
      }
      await this.sleep(asked ? OUTBOX_POLL_MS : WAKE_RETRY_MS);
    } finally {
      if (asked) await releaseWakeLock(client);
    }
  }

  /** Until a wake-up NOTIFY, `ms`, or stop. */
  private async sleep(ms: number): Promise<void> {
    if (this.abort.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  /** The drain connection: LISTENs for wake-ups and holds the one-drainer advisory lock. */
  private async connect(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client;
    const client = await connectText(this.options.databaseUrl, 'crypto-replicator outbox');
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
    });
    client.on('notification', () => {
      if (this.wake !== undefined) this.wake();
      else this.woken = true;
    });
    const graceMs = this.options.lockGraceMs ?? DRAIN_LOCK_GRACE_MS;
    if (!(await takeDrainLock(client, graceMs, this.abort.signal))) {
      await client.end().catch(() => {});
      throw new DatabaseError('start outbox capture: another replicator drains this outbox', {
        hint: 'stop the other replicator; one database has one outbox stream',
      });
    }
    await client.query(`LISTEN ${OUTBOX_WAKE_CHANNEL}`);
    this.hstore = (await hstoreSchema(client)) ?? S;
    const windowRows = await drainWindowRows(client);
    if (windowRows === 0) {
      this.options.logger.warn(
        { hint: 'run "crypto-replicator install --mode outbox --tables …" again to add them' },
        'the outbox lacks the indexes on waiting rows: each drain round reads the whole backlog',
      );
    }
    this.windowRows = windowRows;
    this.client = client;
    this.state.connected = true;
    return client;
  }
}
