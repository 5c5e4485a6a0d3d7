import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import type { TableName } from '../change/change.js';
import { parseTableName, qualifiedName, quoteIdent } from '../change/change.js';
import type { EncryptedEnvelope } from '../envelope/index.js';
import { UsageError } from '../errors.js';
import { redactUrl } from '../log/logger.js';
import type { TableCounts } from './change-applier.js';
import { describeError } from './database-error.js';
import { emptyCounts } from './restore-target.js';
import { describeTable, type TargetTable, tableHasRows } from './target-catalog.js';

/** One decrypted v1 envelope, ready to apply. */
export interface V1Change {
  name: string;
  timestamp: string;
  table: TableName;
  envelope: EncryptedEnvelope;
  data: unknown;
}

export interface V1ApplierOptions {
  /** Target database; undefined for JSON lines or a dry run. */
  client?: pg.Client;
  jsonlDir?: string;
  allowNonempty: boolean;
  warn: (message: string) => void;
}

/**
 * Applies decrypted v1 envelopes (a row as JSON, the seed's `row_to_json`) to existing tables:
 * PostgreSQL itself turns the JSON back into typed columns (`json_populate_record`), inserts
 * and updates are upserts on the primary key, deletes match the key.
 *
 * @example
 * ```ts
 * const applier = new V1Applier({ client, allowNonempty: false, warn: console.warn });
 * await applier.apply(change);
 * await applier.commit();
 * ```
 */
export class V1Applier {
  readonly counts = new Map<string, TableCounts>();
  private readonly options: V1ApplierOptions;
  private readonly tables = new Map<string, TargetTable>();
  private readonly warned = new Set<string>();
  private open = false;
  private file: WriteStream | undefined;

  constructor(options: V1ApplierOptions) {
    this.options = options;
    if (options.jsonlDir !== undefined) {
      mkdirSync(options.jsonlDir, { recursive: true });
      this.file = createWriteStream(join(options.jsonlDir, 'envelopes.jsonl'), { flags: 'w' });
    }
  }

  description(url: string | undefined): string {
    if (this.options.jsonlDir !== undefined) return `JSON lines in ${this.options.jsonlDir}`;
    if (this.options.client === undefined) return 'dry run (nothing written)';
    return redactUrl(url ?? '');
  }

  async apply(change: V1Change): Promise<void> {
    const operation = String(change.envelope.operation).toUpperCase();
    const name = qualifiedName(change.table);
    const counts = this.tally(name);
    if (operation === 'INSERT') counts.inserted++;
    else if (operation === 'UPDATE') counts.updated++;
    else if (operation === 'DELETE') counts.deleted++;
    else if (operation === 'TRUNCATE') counts.truncated++;
    else {
      this.warnOnce(`op:${operation}`, `envelope ${change.name}: operation "${operation}" skipped`);
      return;
    }

    if (this.file !== undefined) {
      const line = JSON.stringify({
        envelope: change.name,
        timestamp: change.timestamp,
        table: change.table,
        operation,
        data: change.data,
      });
      if (!this.file.write(`${line}\n`)) await once(this.file, 'drain');
      return;
    }
    const client = this.options.client;
    if (client === undefined) return;

    try {
      await this.applyToDatabase(client, change, operation);
    } catch (error) {
      throw describeError(`apply envelope ${change.name} to table ${name}`, error);
    }
  }

  async commit(): Promise<void> {
    if (!this.open || this.options.client === undefined) return;
    await this.options.client.query('COMMIT');
    this.open = false;
  }

  async rollback(): Promise<void> {
    if (!this.open || this.options.client === undefined) return;
    this.open = false;
    await this.options.client.query('ROLLBACK').catch(() => {});
  }

  async close(): Promise<void> {
    await this.rollback();
    await this.options.client?.end().catch(() => {});
    if (this.file !== undefined) {
      this.file.end();
      await once(this.file, 'close');
    }
  }

  private async applyToDatabase(
    client: pg.Client,
    change: V1Change,
    operation: string,
  ): Promise<void> {
    const table = await this.table(client, change.table);
    const name = qualifiedName(table.table);
    if (!this.open) {
      await client.query('BEGIN');
      this.open = true;
    }

    // TRUNCATE names its tables in the data (`schema.name`), else the envelope's table.
    if (operation === 'TRUNCATE') {
      const listed = (change.data as { tables?: unknown } | null)?.tables;
      const names = Array.isArray(listed) ? listed.map((t) => parseTableName(String(t))) : [];
      const targets = names.length > 0 ? names : [change.table];
      for (const each of targets) await this.table(client, each);
      await client.query(`TRUNCATE ${targets.map(qualifiedName).join(', ')}`);
      return;
    }

    const row = rowOf(change.data, table);
    if (row === undefined) {
      this.warnOnce(`norow:${name}`, `table ${name}: envelope(s) without a row object skipped`);
      return;
    }
    const columns = table.columns.map((c) => c.name).filter((c) => Object.hasOwn(row, c));
    const list = columns.map(quoteIdent).join(', ');
    const source = `json_populate_record(NULL::${name}, $1::json)`;
    const key = table.primaryKey;

    if (operation === 'DELETE') {
      if (key.length === 0 || key.some((column) => !Object.hasOwn(row, column))) {
        this.warnOnce(
          `nodelete:${name}`,
          `table ${name}: deletes without a primary key value skipped`,
        );
        return;
      }
      const keyList = key.map(quoteIdent).join(', ');
      await client.query(
        `DELETE FROM ${name} WHERE (${keyList}) IN (SELECT ${keyList} FROM ${source})`,
        [JSON.stringify(row)],
      );
      return;
    }

    if (key.length === 0) {
      if (operation === 'UPDATE') {
        this.warnOnce(
          `noupdate:${name}`,
          `table ${name}: no primary key, updates applied as inserts`,
        );
      }
      await client.query(`INSERT INTO ${name} (${list}) SELECT ${list} FROM ${source}`, [
        JSON.stringify(row),
      ]);
      return;
    }
    const sets = columns
      .filter((column) => !key.includes(column))
      .map((column) => `${quoteIdent(column)} = EXCLUDED.${quoteIdent(column)}`);
    const conflict = `ON CONFLICT (${key.map(quoteIdent).join(', ')})`;
    const action = sets.length > 0 ? `DO UPDATE SET ${sets.join(', ')}` : 'DO NOTHING';
    await client.query(
      `INSERT INTO ${name} (${list}) SELECT ${list} FROM ${source} ${conflict} ${action}`,
      [JSON.stringify(row)],
    );
  }

  private async table(client: pg.Client, table: TableName): Promise<TargetTable> {
    const name = qualifiedName(table);
    const cached = this.tables.get(name);
    if (cached !== undefined) return cached;
    const described = await describeTable(client, table);
    if (described === undefined) {
      throw new UsageError(
        `restore v1 envelopes into table ${name}: it does not exist in the target`,
        {
          hint: 'v1 envelopes carry no schema: create the tables first (e.g. from a schema dump)',
        },
      );
    }
    if (!this.options.allowNonempty && (await tableHasRows(client, table))) {
      throw new UsageError(`restore into table ${name}: the target table already holds rows`, {
        hint: 'restore into empty tables, or pass --allow-nonempty to merge into them',
      });
    }
    if (described.primaryKey.length === 0) {
      this.warnOnce(
        `nokey:${name}`,
        `table ${name} has no primary key: v1 inserts are appended, updates become inserts, deletes are skipped`,
      );
    }
    this.tables.set(name, described);
    return described;
  }

  private tally(name: string): TableCounts {
    let entry = this.counts.get(name);
    if (entry === undefined) {
      entry = emptyCounts();
      this.counts.set(name, entry);
    }
    return entry;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.warn(message);
  }
}

/**
 * The row of a decrypted envelope. The seed encrypts the row itself; a payload that wraps it
 * as `{ table, operation, data }` is unwrapped unless the table has a column named `data`.
 */
function rowOf(data: unknown, table: TargetTable): Record<string, unknown> | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const object = data as Record<string, unknown>;
  const wrapped =
    Object.hasOwn(object, 'data') &&
    Object.hasOwn(object, 'operation') &&
    !table.columns.some((column) => column.name === 'data');
  if (wrapped) return rowOf(object.data, table);
  return object;
}
