import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transaction } from '../change/change.js';
import { UsageError } from '../errors.js';
import type { TableCounts } from './change-applier.js';
import { countRecord, type RestoreTarget, selectRecords } from './restore-target.js';

/**
 * Writes decrypted records as JSON lines, one file per stream (`<streamId>.jsonl`), one line
 * per record with its transaction's stream, sequence, xid, position and commit time. Lines of
 * a transaction that continues in the next segment are held until it is complete.
 *
 * @example
 * ```ts
 * const target = new JsonlTarget({ dir: 'out' });
 * ```
 */
export class JsonlTarget implements RestoreTarget {
  readonly description: string;
  private readonly dir: string;
  private readonly tables: Set<string> | undefined;
  private readonly tally = new Map<string, TableCounts>();
  private file: WriteStream | undefined;
  private held: string[] | undefined;

  constructor(options: { dir: string; tables?: Set<string> }) {
    this.dir = options.dir;
    this.tables = options.tables;
    this.description = `JSON lines in ${options.dir}`;
  }

  async begin(streamId: string): Promise<undefined> {
    await this.closeFile();
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw new UsageError(`create folder ${this.dir}: ${(error as Error).message}`);
    }
    // NOTE: always written afresh; JSON lines output does not resume.
    this.file = createWriteStream(join(this.dir, `${streamId}.jsonl`), { flags: 'w' });
    return undefined;
  }

  async markTransaction(): Promise<void> {
    this.held = [];
  }

  async abandonTransaction(): Promise<void> {
    this.held = undefined;
  }

  async apply(stream: { streamId: string; sequence: number }, tx: Transaction): Promise<void> {
    const context = {
      stream: stream.streamId,
      sequence: stream.sequence,
      xid: tx.xid,
      position: tx.position,
      commitTime: tx.commitTime,
    };
    const lines = selectRecords(tx.records, this.tables).map((record) => {
      countRecord(this.tally, record);
      return `${JSON.stringify({ ...context, ...record })}\n`;
    });
    if (this.held !== undefined) {
      this.held.push(...lines);
      if (tx.continues) return;
      lines.splice(0, lines.length, ...this.held);
      this.held = undefined;
    }
    for (const line of lines) await this.write(line);
  }

  async commit(): Promise<void> {}
  async rollback(): Promise<void> {}

  counts(): Map<string, TableCounts> {
    return this.tally;
  }

  async close(): Promise<void> {
    await this.closeFile();
  }

  private async write(line: string): Promise<void> {
    if (this.file === undefined) throw new Error('JsonlTarget.write before begin');
    if (!this.file.write(line)) await once(this.file, 'drain');
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    if (file === undefined) return;
    this.file = undefined;
    file.end();
    await once(file, 'close');
  }
}
