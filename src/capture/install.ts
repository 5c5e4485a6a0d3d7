import type pg from 'pg';
import { qualifiedName, type TableName } from '../change/change.js';
import { DatabaseError, UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { CaptureMode } from './capture-source.js';
import { listAllTables, requireTables } from './catalog.js';
import {
  type CaptureSqlOptions,
  installStatements,
  renderScript,
  uninstallStatements,
} from './install-sql.js';
import { installSlot, slotStatement } from './logical/install-slot.js';
import { REPLICATION_NAME_PATTERN } from './logical/logical-slot.js';
import { hstoreSchema } from './outbox/outbox-rows.js';
import { connectText, describeError } from './text-client.js';

export interface InstallOptions {
  mode: CaptureMode;
  databaseUrl: string;
  /** Tables to cover; or `allTables` for every table outside the system schemas. */
  tables?: TableName[];
  allTables?: boolean;
  channel?: string;
  slotName?: string;
  publicationName?: string;
  logger?: Logger;
}

export interface InstallReport {
  tables: TableName[];
  /** Covered tables that have no primary key (see the warning the CLI prints). */
  tablesWithoutPrimaryKey: TableName[];
  statements: string[];
  /** logical: true when this install created the slot, false when it existed already. */
  slotCreated?: boolean;
}

function names(options: Pick<InstallOptions, 'channel' | 'slotName' | 'publicationName'>) {
  const publicationName = options.publicationName ?? 'crypto_replicator';
  const slotName = options.slotName ?? 'crypto_replicator';
  for (const [what, name] of [
    ['--slot', slotName],
    ['--publication', publicationName],
  ]) {
    if (!REPLICATION_NAME_PATTERN.test(name!)) {
      throw new UsageError(
        `invalid ${what} "${name}": expected lowercase letters, digits and _ (at most 63)`,
      );
    }
  }
  const channel = options.channel ?? 'nis2_changes';
  if (channel === '' || Buffer.byteLength(channel) > 63) {
    throw new UsageError(`invalid --channel "${channel}": expected 1 to 63 bytes`);
  }
  return { publicationName, slotName, channel };
}

/**
 * The SQL that install (or uninstall) runs, without connecting: what `--print-sql` shows.
 *
 * @example
 * ```ts
 * captureSql({ mode: 'outbox', tables: [{ schema: 'public', name: 'Odd Table' }] });
 * ```
 */
export function captureSql(options: {
  mode: CaptureMode;
  tables: TableName[];
  uninstall?: boolean;
  channel?: string;
  slotName?: string;
  publicationName?: string;
  hstoreSchema?: string;
}): string {
  const { publicationName, slotName, channel } = names(options);
  const sqlOptions: CaptureSqlOptions = {
    mode: options.mode,
    tables: options.tables,
    channel,
    publicationName,
    hstoreSchema: options.hstoreSchema,
  };
  if (options.uninstall) return renderScript(uninstallStatements(sqlOptions, slotName));
  const script = renderScript(installStatements(sqlOptions));
  if (options.mode !== 'logical') return script;
  return (
    `${script}-- The replication slot, after the transaction (PostgreSQL creates a logical slot\n` +
    `-- only in a transaction that has not written):\n${slotStatement(slotName)};\n`
  );
}

/**
 * Create what a mode needs on the given tables, in one transaction, idempotently: outbox and
 * triggers (outbox), notify triggers plus the outbox for large rows (notify), or a publication
 * and replica identities, then the replication slot unless it exists (logical; the first `run`
 * of a new stream makes the slot again, exporting the snapshot of existing rows).
 *
 * @example
 * ```ts
 * const report = await installCapture({ mode: 'outbox', databaseUrl, allTables: true });
 * report.tablesWithoutPrimaryKey; // warn about these
 * ```
 */
export async function installCapture(options: InstallOptions): Promise<InstallReport> {
  const { publicationName, channel, slotName } = names(options);
  const logger = options.logger ?? silentLogger;
  const client = await connectText(options.databaseUrl, 'crypto-replicator install');
  try {
    const tables = await resolveTables(client, options);
    const hstore = options.mode === 'logical' ? undefined : await hstoreSchema(client);
    const statements = installStatements({
      mode: options.mode,
      tables,
      channel,
      publicationName,
      hstoreSchema: hstore,
    });
    await runInTransaction(client, statements, `install ${options.mode} capture`);
    const slot = options.mode === 'logical' ? await installSlot(client, slotName) : undefined;
    const tablesWithoutPrimaryKey = await withoutPrimaryKey(client, tables);
    logger.info({ mode: options.mode, tables: tables.length }, 'capture installed');
    return { tables, tablesWithoutPrimaryKey, statements, slotCreated: slot?.created };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Remove what install created: from the given tables only, or (no tables, or `allTables`)
 * everything: our schema with its outbox, or the publication and the replication slot.
 *
 * @example
 * ```ts
 * await uninstallCapture({ mode: 'logical', databaseUrl, allTables: true });
 * ```
 */
export async function uninstallCapture(options: InstallOptions): Promise<{ statements: string[] }> {
  const { publicationName, slotName, channel } = names(options);
  const client = await connectText(options.databaseUrl, 'crypto-replicator uninstall');
  try {
    const tables = options.allTables ? [] : (options.tables ?? []);
    if (tables.length > 0) await requireTables(client, tables);
    const statements = uninstallStatements(
      { mode: options.mode, tables, channel, publicationName },
      slotName,
    );
    await runInTransaction(client, statements, `uninstall ${options.mode} capture`);
    (options.logger ?? silentLogger).info({ mode: options.mode }, 'capture uninstalled');
    return { statements };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The tables an install covers: the named ones (checked to exist) or all of them.
 *
 * @example
 * ```ts
 * const tables = await resolveTables(client, { allTables: true });
 * ```
 */
export async function resolveTables(
  client: pg.Client,
  options: Pick<InstallOptions, 'tables' | 'allTables'>,
): Promise<TableName[]> {
  if (options.allTables) return listAllTables(client);
  const tables = options.tables ?? [];
  if (tables.length === 0) {
    throw new UsageError('install capture: no tables given', {
      hint: 'pass --tables a,b or --all-tables',
    });
  }
  await requireTables(client, tables);
  return tables;
}

async function withoutPrimaryKey(client: pg.Client, tables: TableName[]): Promise<TableName[]> {
  const out: TableName[] = [];
  for (const table of tables) {
    const { rows } = await client.query(
      'SELECT 1 FROM pg_index WHERE indrelid = $1::regclass AND indisprimary',
      [qualifiedName(table)],
    );
    if (rows.length === 0) out.push(table);
  }
  return out;
}

async function runInTransaction(client: pg.Client, statements: string[], what: string) {
  try {
    await client.query('BEGIN');
    for (const statement of statements) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    const database = (client as unknown as { database?: string }).database ?? '';
    throw new DatabaseError(`${what} in database "${database}": ${describeError(error)}`, {
      hint: 'the role needs CREATE on the database (outbox, notify) or to own the tables (logical, triggers)',
    });
  }
}
