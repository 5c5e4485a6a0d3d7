import { once } from 'node:events';
import type pg from 'pg';
import { type CopyStreamQuery, from as copyFrom } from 'pg-copy-streams';
import type { Row } from '../change/change.js';
import { copyLine, copyStatement, parseCopyText } from './batch-sql.js';
import type { TargetTable } from './target-catalog.js';

/** Rows per COPY statement of a lane; the lane's text is kept until the server accepted it. */
export const MAX_COPY_ROWS = 250_000;
/**
 * Text per COPY statement of a lane, in UTF-16 code units (what is kept for the fallback, at
 * most; about as many bytes for the mostly ASCII text of PostgreSQL values).
 */
export const MAX_COPY_CHARS = 16 * 1024 * 1024;
/** The savepoint a lane's COPY runs under. */
const SAVEPOINT = 'cr_copy';
/** Text handed to the connection at a time. */
const CHUNK_CHARS = 64 * 1024;
/** Text buffered in the COPY stream before this thread waits for the socket. */
const STREAM_HIGH_WATER = 1024 * 1024;

/** The table and columns a lane copies into. */
export interface LaneTarget {
  table: TargetTable;
  /** `qualifiedName` of the table. */
  name: string;
  columns: string[];
}

/** How a lane's COPY ended. */
export type LaneOutcome =
  | { kind: 'applied' }
  /** A key already present: the COPY failed; its savepoint is still there to roll back to. */
  | { kind: 'duplicate' }
  | { kind: 'failed'; error: unknown };

/**
 * One COPY … FROM STDIN streamed while rows come: inserts of one table and column list are
 * written to the server as they are decoded, so the server ingests them while this thread
 * decodes the next ones (a batch built first and sent after would make the two take turns).
 * Under a savepoint for a keyed table: a key already present fails the COPY, and the caller
 * rolls back to the savepoint and applies {@link rows} as an upsert. The text sent is kept for
 * that (at most {@link MAX_COPY_CHARS}); rows themselves are not kept.
 *
 * @example
 * ```ts
 * const lane = CopyLane.open(client, { table, name, columns }, { savepoint: true });
 * await lane.add(row);
 * if ((await lane.finish()).kind === 'duplicate') await lane.undo();
 * ```
 */
export class CopyLane {
  readonly table: TargetTable;
  /** `qualifiedName` of the table. */
  readonly name: string;
  readonly columns: string[];
  readonly savepoint: boolean;
  private readonly client: pg.ClientBase;
  private rowCount = 0;
  private readonly stream: CopyStreamQuery;
  private readonly statements: Array<Promise<unknown>>;
  private readonly sent: string[] = [];
  private sentChars = 0;
  private pending = '';
  private readonly done: Promise<void>;

  private constructor(client: pg.ClientBase, target: LaneTarget, savepoint: boolean) {
    const { table, columns } = target;
    this.table = table;
    this.name = target.name;
    this.columns = columns;
    this.savepoint = savepoint;
    this.client = client;
    // Queued behind whatever the connection is doing; rows written before the server is ready
    // for them wait in the stream.
    const opening = savepoint ? client.query(`SAVEPOINT ${SAVEPOINT}`) : Promise.resolve();
    this.stream = client.query(
      copyFrom(copyStatement(table, columns), { highWaterMark: STREAM_HIGH_WATER }),
    );
    this.done = new Promise<void>((resolve, reject) => {
      this.stream.once('finish', resolve);
      this.stream.once('error', reject);
    });
    this.statements = [opening, this.done];
    // Observed in finish(); this keeps Node from reporting a failure meanwhile.
    for (const statement of this.statements) statement.catch(() => {});
  }

  /** Start a lane; its statements queue behind those already on the connection. */
  static open(
    client: pg.ClientBase,
    target: LaneTarget,
    options: { savepoint: boolean },
  ): CopyLane {
    return new CopyLane(client, target, options.savepoint);
  }

  /** True when the lane holds as much as one COPY should. */
  full(): boolean {
    return this.rowCount >= MAX_COPY_ROWS || this.sentChars + this.pending.length >= MAX_COPY_CHARS;
  }

  /**
   * Add a row. Returns undefined (the common case, no promise), or a promise to await when the
   * stream's buffer is full (the server is behind; waiting keeps memory bounded).
   */
  add(row: Row): Promise<void> | undefined {
    this.pending += copyLine(row, this.columns);
    this.rowCount++;
    if (this.pending.length < CHUNK_CHARS) return undefined;
    return this.write();
  }

  /** Send the rest, end the COPY, and say how it ended (the savepoint released when applied). */
  async finish(): Promise<LaneOutcome> {
    if (this.pending.length > 0) this.write();
    if (!this.stream.destroyed) this.stream.end();
    const settled = await Promise.allSettled(this.statements);
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      const error = (failed as PromiseRejectedResult).reason;
      const code = (error as { code?: string }).code;
      if (this.savepoint && settled[0]!.status === 'fulfilled' && code === '23505') {
        return { kind: 'duplicate' };
      }
      return { kind: 'failed', error };
    }
    if (this.savepoint) await this.client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return { kind: 'applied' };
  }

  /** After a `duplicate`: undo the COPY back to its savepoint (then apply {@link rows}). */
  async undo(): Promise<void> {
    await this.client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await this.client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  }

  /** Abandon the COPY (the caller rolls the transaction back): the server gets a CopyFail. */
  async abort(): Promise<void> {
    this.pending = '';
    if (!this.stream.writableFinished) this.stream.destroy(new Error('restore stopped'));
    await Promise.allSettled(this.statements);
  }

  /** The rows sent, read back from the COPY text (for the upsert after a duplicate key). */
  rows(): Row[] {
    return parseCopyText(this.sent.join(''), this.columns);
  }

  private write(): Promise<void> | undefined {
    const chunk = this.pending;
    this.pending = '';
    this.sent.push(chunk);
    this.sentChars += chunk.length;
    // A COPY the server refused already takes nothing more; finish() says why.
    if (this.stream.destroyed) return undefined;
    if (this.stream.write(chunk)) return undefined;
    // The server is behind: wait until it takes more, or until the COPY ends (an error is
    // reported by finish(), not here, so that a duplicate key still falls back).
    return Promise.race([once(this.stream, 'drain'), this.done]).then(
      () => undefined,
      () => undefined,
    );
  }
}
