import type pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import {
  formatLsn,
  positionValue,
  type SchemaRecord,
  type TableName,
  type Transaction,
} from '../../change/change.js';
import { DatabaseError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { reconnectDelayMs, sleep } from '../backoff.js';
import type { CaptureMode, CaptureSource, CaptureStatus } from '../capture-source.js';
import { readSchemaRecord } from '../catalog.js';
import { connectText } from '../text-client.js';
import { TransactionQueue } from '../transaction-queue.js';
import { dispatchDirectly } from './direct-dispatch.js';
import { relationShape, relationTable, toChangeRecord } from './logical-records.js';
import { createSlot } from './logical-slot.js';
import type { PgoutputMessage } from './pgoutput-decoder.js';
import { destroySocket, ReceiveWatch, walSenderTimeoutMs } from './receive-deadline.js';
import { SLOT_STATUS_INTERVAL_MS, SlotHealth } from './slot-health.js';
import { waitForSlotFree } from './slot-owner.js';
import { planSlotStart } from './slot-start.js';
import { importSnapshot } from './snapshot-import.js';
import { TextPgoutputPlugin, type UndecodableMessage } from './text-pgoutput-plugin.js';

/** Give up on a connection attempt after this long (and retry with backoff). */
const CONNECT_TIMEOUT_MS = 10_000;

export interface LogicalSourceOptions {
  databaseUrl: string;
  slotName: string;
  publicationName: string;
  tables?: TableName[];
  snapshot: boolean;
  resumePosition?: string;
  logger: Logger;
}

interface OpenTransaction {
  xid: string;
  records: Transaction['records'];
}

/**
 * Logical-replication capture: a persistent pgoutput slot and a publication. The slot's
 * confirmed position moves only in {@link LogicalCaptureSource.acknowledge} (or, when nothing
 * is pending, to a keepalive's position), so the server keeps every change until it is stored.
 *
 * @example
 * ```ts
 * const source = new LogicalCaptureSource({ databaseUrl, slotName: 'crypto_replicator',
 *   publicationName: 'crypto_replicator', snapshot: true, logger });
 * await source.start();
 * ```
 */
export class LogicalCaptureSource implements CaptureSource {
  readonly mode: CaptureMode = 'logical';
  private readonly queue = new TransactionQueue();
  private readonly abort = new AbortController();
  private control: pg.Client | undefined;
  private service: LogicalReplicationService | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private snapshotRead: (() => Promise<void>) | undefined;
  private open: OpenTransaction | undefined;
  private pendingSchemas: SchemaRecord[] = [];
  private readonly shapes = new Map<string, string>();
  /** Schema records read at start, by table: what the first RELATION of a table is checked against. */
  private readonly startSchemas = new Map<string, SchemaRecord>();
  /** Highest commit LSN handed to the queue, to drop what the server re-sends on reconnect. */
  private lastEmitted = 0n;
  /** The flush position we report to the server (first byte not yet needed). */
  private confirmed = 0n;
  private readonly health: SlotHealth;
  private readonly state: CaptureStatus = { connected: false };
  /** No message for this long means the link is dead (half the server's wal_sender_timeout). */
  private receiveDeadlineMs = 0;
  /** Last snapshot position emitted and not yet acknowledged (the slot must not move then). */
  private snapshotUnacknowledged: bigint | undefined;

  constructor(private readonly options: LogicalSourceOptions) {
    this.health = new SlotHealth({
      slotName: options.slotName,
      logger: options.logger,
      control: () => this.ensureControl(),
      state: this.state,
      onLost: (error) => {
        this.abort.abort();
        this.queue.fail(error);
      },
    });
  }

  async start(): Promise<void> {
    try {
      await this.startNow();
    } catch (error) {
      // A refused start leaves no connection behind (it would keep the process alive).
      await this.control?.end().catch(() => {});
      this.control = undefined;
      throw error;
    }
  }

  private async startNow(): Promise<void> {
    const { slotName, logger } = this.options;
    const control = await this.ensureControl();

    // The publication is what install creates; without it there is nothing to follow.
    const publication = await control.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
      this.options.publicationName,
    ]);
    if (publication.rows.length === 0) {
      throw new DatabaseError(
        `start logical capture: publication "${this.options.publicationName}" does not exist`,
        {
          hint: 'run "crypto-replicator install --mode logical --tables …" first',
        },
      );
    }
    const tables = this.options.tables ?? (await this.publishedTables(control));
    this.receiveDeadlineMs = await walSenderTimeoutMs(control);

    // Schema records for every followed table go first into the stream.
    for (const table of tables) {
      const record = await readSchemaRecord(control, table);
      this.pendingSchemas.push(record);
      this.startSchemas.set(JSON.stringify(table), record);
    }

    const { slot, redo } = await planSlotStart(control, this.options, tables, logger);
    if (slot !== undefined) {
      // Another process on this slot would split the stream: refuse after a short grace.
      await waitForSlotFree(control, slotName);
      this.confirmed = slot.confirmedFlush;
      this.lastEmitted = slot.confirmedFlush - 1n;
    } else {
      const created = await createSlot(this.options.databaseUrl, slotName, this.options.snapshot);
      this.confirmed = created.consistentPoint;
      logger.info(
        { slot: slotName, consistentPoint: formatLsn(created.consistentPoint) },
        'replication slot created',
      );
      if (created.snapshotName !== null) {
        const numbering = {
          base: redo?.base ?? 0n,
          truncate: redo !== undefined,
          consistentPoint: created.consistentPoint,
        };
        this.snapshotRead = await importSnapshot(
          this.options.databaseUrl,
          created.snapshotName,
          tables,
          numbering,
          {
            push: (transaction) => this.queue.push(transaction),
            takeSchemas: () => this.takeSchemas(),
            emitted: (position) => {
              this.snapshotUnacknowledged = position;
            },
            aborted: () => this.abort.signal.aborted,
            logger,
          },
        );
      }
      await created.connection.end().catch(() => {});
    }
    this.health.seen();

    // Snapshot first (if any), then the stream, in the background; the queue carries both.
    this.loop = this.run().catch((error) => this.queue.fail(error));
    this.timer = setInterval(() => void this.checkSlot(), SLOT_STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  transactions(): AsyncIterable<Transaction> {
    return this.queue;
  }

  async acknowledge(position: string): Promise<void> {
    const value = positionValue(position);
    if (this.snapshotUnacknowledged !== undefined && value >= this.snapshotUnacknowledged) {
      this.snapshotUnacknowledged = undefined;
    }
    this.state.acknowledgedPosition = position;
    // Snapshot chunks sit below the slot's start; only stream positions move the slot.
    if (value + 1n > this.confirmed) {
      this.confirmed = value + 1n;
      await this.sendConfirmed();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.close();
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sendConfirmed();
    await this.loop;
    await this.control?.end().catch(() => {});
    this.state.connected = false;
  }

  status(): CaptureStatus {
    return { ...this.state };
  }

  private async publishedTables(control: pg.Client): Promise<TableName[]> {
    const { rows } = await control.query<{ schema: string; name: string }>(
      `SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables
        WHERE pubname = $1 ORDER BY 1, 2`,
      [this.options.publicationName],
    );
    return rows;
  }

  private takeSchemas(): SchemaRecord[] {
    return this.pendingSchemas.splice(0);
  }

  private async run(): Promise<void> {
    if (this.snapshotRead !== undefined) await this.snapshotRead();
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        await this.stream(() => {
          attempt = 0;
        });
        if (this.abort.signal.aborted) return;
        throw new Error('replication stream ended');
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.state.connected = false;
        this.state.problem = await this.health.describeFailure(error);
        await this.health.failIfLost();
        this.options.logger.warn({ attempt, problem: this.state.problem }, 'capture reconnecting');
        this.open = undefined;
        await sleep(reconnectDelayMs(attempt++), this.abort.signal);
      }
    }
  }

  /** One replication connection, until it ends or fails. */
  private async stream(onStarted: () => void): Promise<void> {
    const service = new LogicalReplicationService(
      {
        connectionString: this.options.databaseUrl,
        application_name: 'crypto-replicator',
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        keepAlive: true,
      },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.service = service;
    let failure: Error | undefined;
    service.on('error', (error: Error) => {
      failure ??= error;
    });
    // A silent link (no FIN, no RST) is noticed by a receive deadline.
    let timedOut: Error | undefined;
    const watch = new ReceiveWatch(
      this.receiveDeadlineMs,
      () => void this.sendConfirmed(true),
      (error) => {
        timedOut = error;
        destroySocket(service);
      },
    );
    // NOTE: ending the library's client while it is still connecting leaks that connection
    // (the library drops its listeners), so a stop() that lands then waits for 'start'.
    let started = false;
    const onAbort = () => {
      if (started) void service.destroy().catch(() => {});
    };
    this.abort.signal.addEventListener('abort', onAbort);
    service.on('start', () => {
      started = true;
      if (this.abort.signal.aborted) {
        onAbort();
        return;
      }
      onStarted();
      watch.start();
      this.state.connected = true;
      this.state.problem = undefined;
      this.options.logger.info({ slot: this.options.slotName }, 'replication stream started');
      void this.sendConfirmed();
    });
    dispatchDirectly(service, (_lsn, message) => {
      watch.touch();
      return this.onMessage(message as PgoutputMessage | UndecodableMessage);
    });
    service.on('heartbeat', (lsn: string, _time: number, shouldRespond: boolean) => {
      watch.touch();
      this.onKeepalive(lsn, shouldRespond);
    });
    try {
      await service.subscribe(
        new TextPgoutputPlugin(this.options.publicationName),
        this.options.slotName,
      );
    } catch (error) {
      throw timedOut ?? error;
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
      watch.stop();
      await service.destroy().catch(() => {});
      this.service = undefined;
    }
    if (timedOut !== undefined || failure !== undefined) throw timedOut ?? failure;
  }

  // NOTE: not async: a row change (nearly every message) is handled without a promise; only
  // RELATION (catalog read) and COMMIT (queue back-pressure) return one to wait on.
  private onMessage(message: PgoutputMessage | UndecodableMessage): Promise<void> | undefined {
    if (message.tag === 'undecodable') {
      this.queue.fail(new DatabaseError(`decode replication stream: ${message.error.message}`));
      return undefined;
    }
    if (message.tag === 'begin') {
      this.open = { xid: String(message.xid), records: this.takeSchemas() };
      return undefined;
    }
    if (message.tag === 'relation') return this.onRelation(message);
    if (message.tag === 'commit') return this.onCommit(message.commitLsn, message.commitTime);
    const record = toChangeRecord(message);
    if (record !== undefined) this.open?.records.push(record);
    return undefined;
  }

  /** A RELATION message: emit a schema record when the table is new here or its shape moved. */
  private async onRelation(message: Extract<PgoutputMessage, { tag: 'relation' }>): Promise<void> {
    const table = relationTable(message.relation);
    const key = JSON.stringify(table);
    const shape = relationShape(message.relation);
    const known = this.shapes.get(key);
    this.shapes.set(key, shape);
    if (known === shape) return;
    // First RELATION of this session: compare with what start() read from the catalog.
    const atStart = this.startSchemas.get(key);
    this.startSchemas.delete(key);
    const names = message.relation.columns.map((c) => c.name).join('\u0000');
    if (known === undefined && atStart?.columns.map((c) => c.name).join('\u0000') === names) return;
    const record = await readSchemaRecord(await this.ensureControl(), table);
    if (this.open !== undefined) this.open.records.push(record);
    else this.pendingSchemas.push(record);
  }

  private async onCommit(commitLsn: bigint, commitTime: string): Promise<void> {
    const open = this.open;
    this.open = undefined;
    if (open === undefined) return;
    // A reconnect re-sends what was emitted but not yet acknowledged: drop it here.
    if (commitLsn <= this.lastEmitted) return;
    this.lastEmitted = commitLsn;
    const position = formatLsn(commitLsn);
    this.state.receivedPosition = position;
    this.state.lagSeconds = Math.max(0, (Date.now() - Date.parse(commitTime)) / 1000);
    await this.queue.push({ xid: open.xid, commitTime, position, records: open.records });
  }

  /**
   * Answer keepalives with what is stored; but when nothing is pending, move to the keepalive's
   * position so an idle slot does not hold back the WAL other databases write.
   */
  private onKeepalive(lsn: string, shouldRespond: boolean): void {
    // Idle: no transaction half-read or queued, and every emitted one acknowledged.
    const idle =
      this.open === undefined &&
      this.queue.length === 0 &&
      this.libraryQueueEmpty() &&
      this.lastEmitted < this.confirmed &&
      this.snapshotUnacknowledged === undefined;
    if (idle && positionValue(lsn) > this.confirmed) {
      this.confirmed = positionValue(lsn);
      void this.sendConfirmed();
    } else if (shouldRespond) {
      void this.sendConfirmed();
    }
  }

  /**
   * NOTE: with flow control the library queues decoded messages and emits keepalives at once,
   * so a keepalive may overtake changes still in its queue. Its queue is private; we read it
   * (pinned version 2.5.0) and treat anything unexpected as "not empty", the safe answer.
   */
  private libraryQueueEmpty(): boolean {
    const internals = this.service as unknown as {
      _messageQueue?: unknown[];
      _processing?: boolean;
    };
    return (
      Array.isArray(internals?._messageQueue) &&
      internals._messageQueue.length === 0 &&
      internals._processing === false
    );
  }

  /** Tell the server the flush position: everything before `confirmed` may be released. */
  private async sendConfirmed(ping = false): Promise<void> {
    if (this.service === undefined || this.confirmed === 0n) return;
    // The library reports lsn + 1 as flushed; pass confirmed - 1 so it reports `confirmed`.
    await this.service.acknowledge(formatLsn(this.confirmed - 1n), ping).catch(() => {});
  }

  /** The slot's lag and existence, then a status update to the server. */
  private async checkSlot(): Promise<void> {
    await this.health.check();
    await this.sendConfirmed();
  }

  private async ensureControl(): Promise<pg.Client> {
    if (this.control !== undefined) return this.control;
    const client = await connectText(this.options.databaseUrl, 'crypto-replicator control');
    client.on('error', () => {
      if (this.control === client) this.control = undefined;
    });
    client.on('end', () => {
      if (this.control === client) this.control = undefined;
    });
    this.control = client;
    return client;
  }
}
