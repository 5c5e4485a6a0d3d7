import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type {
  ChangeRecord,
  Row,
  SchemaRecord,
  TableName,
  Transaction,
} from '../../change/change.js';
import type { Logger } from '../../log/logger.js';
import { retryLocalWrite } from '../../pipeline/local-disk.js';
import { reconnectDelayMs, sleep } from '../backoff.js';
import type { CaptureMode, CaptureSource, CaptureStatus } from '../capture-source.js';
import { readSchemaRecord, tablesWithTrigger } from '../catalog.js';
import { CAPTURE_SCHEMA, ROW_TRIGGER } from '../install-sql.js';
import { DEFAULT_LIVENESS, type LivenessOptions, watchLiveness } from '../liveness.js';
import {
  hstoreSchema,
  type OutboxRow,
  ShapeTracker,
  takeOutboxChangesSql,
} from '../outbox/outbox-rows.js';
import { readSnapshot } from '../snapshot-reader.js';
import { Spool, type SpoolEntry } from '../spool.js';
import { connectText, describeError } from '../text-client.js';
import { TransactionQueue } from '../transaction-queue.js';
import { parsePayload, toChangeRecord } from './notify-payload.js';

/** What the spool holds per entry: raw payloads, drained outbox rows, or snapshot records. */
export type SpoolItem =
  | { kind: 'payload'; payload: string }
  | { kind: 'outbox'; row: OutboxRow }
  | { kind: 'records'; records: ChangeRecord[] };

/** Resume LISTEN once the spool is below this share of its cap. */
const SPOOL_RESUME_RATIO = 0.9;
const SNAPSHOT_MARK = 'snapshot-done';

export interface NotifySourceOptions {
  databaseUrl: string;
  channel: string;
  tables?: TableName[];
  snapshot: boolean;
  spoolDir: string;
  spoolMaxBytes: number;
  logger: Logger;
  /** When the quiet LISTEN connection is probed, and how long it has to answer. */
  liveness?: LivenessOptions;
}

/**
 * The seed's mode: LISTEN on a channel; every notification is fsynced into a local spool
 * before it counts as received, and positions are spool counters. Large rows arrive through
 * the outbox (a NOTIFY wakes us up). Changes made while nobody listens are lost: that is the
 * nature of NOTIFY, documented in docs/CAPTURE.md.
 *
 * @example
 * ```ts
 * const source = new NotifyCaptureSource({ databaseUrl, channel: 'nis2_changes',
 *   snapshot: false, spoolDir: 'state/spool', spoolMaxBytes: 256 * 1024 ** 2, logger });
 * await source.start();
 * ```
 */
export class NotifyCaptureSource implements CaptureSource {
  readonly mode: CaptureMode = 'notify';
  private readonly queue = new TransactionQueue();
  private readonly abort = new AbortController();
  private spool: Spool<SpoolItem> | undefined;
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private connectedBefore = false;
  /** Entries being appended to the spool right now (while a full disk is waited out). */
  private appending = 0;
  private readonly shapes = new ShapeTracker(() => this.connection());
  private pendingSchemas: SchemaRecord[] = [];
  private received: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private spoolFull = false;
  private wakeReader: (() => void) | undefined;
  private loops: Promise<void>[] = [];
  private readonly state: CaptureStatus = { connected: false };

  constructor(private readonly options: NotifySourceOptions) {}

  async start(): Promise<void> {
    await mkdir(this.options.spoolDir, { recursive: true });
    this.spool = await Spool.open<SpoolItem>(this.options.spoolDir);
    const client = await this.connection();

    // Schema records of the followed tables go first; LISTEN before the snapshot so that no
    // change between the two is missed.
    const tables = this.options.tables ?? (await tablesWithTrigger(client, ROW_TRIGGER));
    for (const table of tables) {
      const record = await readSchemaRecord(client, table);
      this.shapes.remember(record);
      this.pendingSchemas.push(record);
    }
    if (this.options.snapshot) await this.snapshotOnce(client, tables);
    await this.enqueue(() => this.drainOutbox());

    this.loops.push(this.readLoop().catch((error) => this.queue.fail(error)));
    this.loops.push(this.reconnectLoop());
  }

  transactions(): AsyncIterable<Transaction> {
    return this.queue;
  }

  async acknowledge(position: string): Promise<void> {
    const spool = this.spool!;
    await spool.acknowledge(position);
    this.state.acknowledgedPosition = position;
    this.state.backlog = spool.depth;
    if (this.spoolFull && spool.bytes < this.options.spoolMaxBytes * SPOOL_RESUME_RATIO) {
      this.spoolFull = false;
      this.state.problem = undefined;
      this.options.logger.warn(
        { spoolBytes: spool.bytes },
        'spool has room again: listening again; changes made while not listening were not captured',
      );
      if (this.client !== undefined) await this.listen(this.client).catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.close();
    this.wakeReader?.();
    await this.chain.catch(() => {});
    await this.client?.end().catch(() => {});
    await Promise.all(this.loops);
    await this.spool?.close();
    this.state.connected = false;
  }

  status(): CaptureStatus {
    // Heard but not yet spooled (a full disk is being waited out) counts as waiting too.
    const unspooled = this.received.length + this.appending;
    return { ...this.state, backlog: (this.spool?.depth ?? 0) + unspooled };
  }

  private async listen(client: pg.Client): Promise<void> {
    await client.query(`LISTEN "${this.options.channel.replaceAll('"', '""')}"`);
  }

  /** Serialise spool writers (notifications, outbox drains) so positions follow arrival. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(task).catch((error) => {
      this.state.problem = `notify spool: ${describeError(error)}`;
      this.options.logger.error({ problem: this.state.problem }, 'notify capture failed');
      this.queue.fail(error);
    });
    return this.chain;
  }

  private onNotification(payload: string): void {
    this.received.push(payload);
    if (this.received.length === 1) void this.enqueue(() => this.flush());
  }

  /** Spool what arrived: consecutive payloads of one transaction become one entry. */
  private async flush(): Promise<void> {
    const payloads = this.received.splice(0);
    const batches: SpoolItem[][] = [];
    let lastXid: string | undefined;
    let wakeOutbox = false;
    for (const payload of payloads) {
      const xid = /"xid"\s*:\s*"(\d+)"/.exec(payload)?.[1];
      if (/^\{"format":"outbox"\}$/.test(payload)) {
        wakeOutbox = true;
        continue;
      }
      const item: SpoolItem = { kind: 'payload', payload };
      if (xid !== undefined && xid === lastXid) batches.at(-1)!.push(item);
      else batches.push([item]);
      lastXid = xid;
    }
    await this.appendWaiting(batches);
    if (wakeOutbox) await this.drainOutbox();
    this.afterAppend();
  }

  /**
   * Append to the spool, waiting out a full or failing disk as the pipeline does: what was heard
   * stays in memory meanwhile (notifications keep arriving into `received`), health says
   * `local disk full: …`, and nothing heard is dropped. A failed append leaves the spool as it was.
   */
  private async appendWaiting(batches: SpoolItem[][]): Promise<void> {
    const problemBefore = this.state.problem;
    this.appending = batches.length;
    try {
      await retryLocalWrite(this.options.spoolDir, () => this.spool!.append(batches), {
        signal: this.abort.signal,
        logger: this.options.logger,
        onAttempt: (problem) => {
          this.state.problem = problem ?? problemBefore;
        },
      });
    } finally {
      this.appending = 0;
    }
  }

  /** Move large rows from the outbox into the spool; delete them once fsynced. */
  private async drainOutbox(): Promise<void> {
    const client = await this.connection();
    // With only the seed's trigger there is no outbox: nothing to drain.
    const exists = await client.query(`SELECT to_regclass('${CAPTURE_SCHEMA}.outbox') AS t`);
    if (exists.rows[0]?.t == null) return;
    const hstore = (await hstoreSchema(client)) ?? CAPTURE_SCHEMA;
    await client.query('BEGIN');
    try {
      // In id order, a chunk row (left by outbox mode) expanded into its changes in turn.
      const { rows } = await client.query<OutboxRow>(takeOutboxChangesSql(hstore, CAPTURE_SCHEMA));
      const byXid = new Map<string, OutboxRow[]>();
      for (const row of rows) byXid.set(row.xid, [...(byXid.get(row.xid) ?? []), row]);
      const groups = [...byXid.values()].sort((a, b) =>
        BigInt(a.at(-1)!.id) < BigInt(b.at(-1)!.id) ? -1 : 1,
      );
      await this.appendWaiting(groups.map((g) => g.map((row) => ({ kind: 'outbox', row }))));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    this.afterAppend();
  }

  private afterAppend(): void {
    const spool = this.spool!;
    this.state.receivedPosition = spool.lastPosition;
    this.state.backlog = spool.depth;
    this.wakeReader?.();
    if (!this.spoolFull && spool.bytes >= this.options.spoolMaxBytes) {
      // Never drop what was received: stop receiving instead, and say so loudly.
      this.spoolFull = true;
      this.state.problem = `spool full (${spool.bytes} bytes, cap ${this.options.spoolMaxBytes}): stopped listening; changes made until it drains are not captured`;
      this.options.logger.error({ spoolBytes: spool.bytes }, this.state.problem);
      void this.client
        ?.query(`UNLISTEN "${this.options.channel.replaceAll('"', '""')}"`)
        .catch(() => {});
    }
  }

  private async snapshotOnce(client: pg.Client, tables: TableName[]): Promise<void> {
    const mark = join(this.options.spoolDir, SNAPSHOT_MARK);
    if ((await readFile(mark, 'utf8').catch(() => undefined)) !== undefined) return;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      for await (const records of readSnapshot(client, tables)) {
        await this.spool!.append([[{ kind: 'records', records }]]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    await writeFile(mark, `${this.spool!.lastPosition}\n`, { flush: true });
    this.afterAppend();
  }

  /** Hand spooled entries to the pipeline in position order. */
  private async readLoop(): Promise<void> {
    let delivered = this.spool!.acknowledgedPosition;
    while (!this.abort.signal.aborted) {
      // An append between reading and waiting would wake nobody: compare before sleeping.
      const appended = this.spool!.lastPosition;
      const entries = await this.spool!.readAfter(delivered);
      if (entries.length === 0) {
        if (this.spool!.lastPosition !== appended) continue;
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
        });
        this.wakeReader = undefined;
        continue;
      }
      for (const entry of entries) {
        if (this.abort.signal.aborted) return;
        await this.queue.push(await this.toTransaction(entry));
        delivered = entry.position;
      }
    }
  }

  private async toTransaction(entry: SpoolEntry<SpoolItem>): Promise<Transaction> {
    const records: Transaction['records'] = this.pendingSchemas.splice(0);
    let xid = '';
    for (const item of entry.items) {
      if (item.kind === 'records') {
        records.push(...item.records);
      } else if (item.kind === 'outbox') {
        xid = item.row.xid;
        records.push(...(await this.shapes.toRecords([item.row])));
      } else {
        const payload = parsePayload(item.payload);
        if (payload.kind !== 'change') continue;
        xid = payload.xid ?? xid;
        const keys: Row = {};
        const data = payload.data ?? payload.oldData;
        if (data?.type === 'object') for (const [name] of data.entries) keys[name] = null;
        const schema = await this.shapes.schemaFor(
          payload.table,
          data === undefined ? undefined : keys,
          records,
        );
        records.push(toChangeRecord(payload, schema));
      }
    }
    return { xid, commitTime: entry.receivedAt, position: entry.position, records };
  }

  /** Keep one LISTEN connection alive; after a drop, reconnect with backoff and drain. */
  private async reconnectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      await sleep(attempt === 0 ? 500 : reconnectDelayMs(attempt), this.abort.signal);
      if (this.client !== undefined || this.abort.signal.aborted) {
        attempt = 0;
        continue;
      }
      try {
        await this.connection();
        attempt = 0;
      } catch (error) {
        this.state.problem = `listen: ${describeError(error)}`;
        attempt++;
      }
    }
  }

  /**
   * The one connection, listening. Whoever needs it first after a loss (the reconnect loop, an
   * outbox drain, a schema lookup) makes it, and it LISTENs before anyone uses it: a connection
   * made elsewhere must not leave the capture deaf while the reconnect loop sees it connected.
   */
  private connection(): Promise<pg.Client> {
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = await connectText(this.options.databaseUrl, 'crypto-replicator notify');
    // A link that drops packets silently would leave LISTEN deaf until TCP gives up.
    const stopWatch = watchLiveness(client, this.options.liveness ?? DEFAULT_LIVENESS, (error) => {
      this.options.logger.warn({ problem: error.message }, 'listen connection unresponsive');
    });
    const lost = () => {
      stopWatch();
      if (this.client !== client) return;
      this.client = undefined;
      this.state.connected = false;
      this.state.problem = 'listen connection lost: reconnecting';
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.options.channel && message.payload !== undefined) {
        this.onNotification(message.payload);
      }
    });
    if (!this.spoolFull) {
      try {
        await this.listen(client);
      } catch (error) {
        stopWatch();
        await client.end().catch(() => {});
        throw error;
      }
    }
    this.client = client;
    this.state.connected = true;
    this.state.problem = this.spoolFull ? this.state.problem : undefined;
    if (this.connectedBefore) {
      // Large rows written meanwhile wait in the outbox; NOTIFYs sent meanwhile are gone.
      this.options.logger.warn(
        'notify capture reconnected; changes made while disconnected were not captured',
      );
      void this.enqueue(() => this.drainOutbox());
    }
    this.connectedBefore = true;
    return client;
  }
}
