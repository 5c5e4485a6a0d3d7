import pg from 'pg';
import type { TableName } from '../change/change.js';
import { qualifiedName } from '../change/change.js';
import { DatabaseError } from '../errors.js';
import { redactUrl } from '../log/logger.js';
import { DIGEST_SESSION_SQL, type TableDigest, tableDigest } from './table-digest.js';
import { listUserTables } from './target-catalog.js';

/** One table on both sides; a side is undefined when the table does not exist there. */
export interface TableComparison {
  table: string;
  source?: TableDigest;
  target?: TableDigest;
  equal: boolean;
}

/** The result of {@link compareDatabases}. */
export interface CompareReport {
  source: string;
  target: string;
  equal: boolean;
  tables: TableComparison[];
}

export interface CompareOptions {
  /** Connection URL of the source (original) database. */
  source: string;
  /** Connection URL of the target (restored) database. */
  target: string;
  /** Only these tables; by default every user table found on either side. */
  tables?: TableName[];
}

/**
 * Compare two databases table by table: row count and an order-independent content digest
 * computed inside each server ({@link tableDigest}). Tables missing on one side differ.
 *
 * @example
 * ```ts
 * const report = await compareDatabases({ source: sourceUrl, target: restoredUrl });
 * if (!report.equal) console.log(report.tables.filter((t) => !t.equal));
 * ```
 */
export async function compareDatabases(options: CompareOptions): Promise<CompareReport> {
  const source = await connect(options.source, 'source');
  try {
    const target = await connect(options.target, 'target');
    try {
      // Which tables: those asked for, else every user table of either side.
      const names = new Map<string, TableName>();
      const wanted = options.tables ?? [
        ...(await listUserTables(source)),
        ...(await listUserTables(target)),
      ];
      for (const table of wanted) names.set(qualifiedName(table), table);

      const tables: TableComparison[] = [];
      for (const [name, table] of [...names].sort(([a], [b]) => a.localeCompare(b))) {
        const left = await digestIfExists(source, table);
        const right = await digestIfExists(target, table);
        const equal =
          left !== undefined &&
          right !== undefined &&
          left.rows === right.rows &&
          left.digest === right.digest;
        tables.push({ table: name, source: left, target: right, equal });
      }
      return {
        source: redactUrl(options.source),
        target: redactUrl(options.target),
        equal: tables.every((table) => table.equal),
        tables,
      };
    } finally {
      await target.end();
    }
  } finally {
    await source.end();
  }
}

async function digestIfExists(
  client: pg.Client,
  table: TableName,
): Promise<TableDigest | undefined> {
  const found = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [
    qualifiedName(table),
  ]);
  if (found.rows[0]?.oid === null) return undefined;
  return tableDigest(client, table);
}

/**
 * Connect to a database for restore or compare, turning failures into a {@link DatabaseError}
 * that names the (password-redacted) URL.
 *
 * @example
 * ```ts
 * const client = await connect('postgresql://localhost/restored', 'target');
 * ```
 */
export async function connect(url: string, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'crypto-replicator' });
  try {
    await client.connect();
    await client.query(DIGEST_SESSION_SQL);
  } catch (error) {
    await client.end().catch(() => {});
    const cause = (error as Error).message;
    throw new DatabaseError(`connect to ${role} database ${redactUrl(url)}: ${cause}`, {
      hint: 'check that the server is running and the URL, user and database are right',
    });
  }
  // A dropped connection surfaces on the next query; keep the process from crashing on it.
  client.on('error', () => {});
  return client;
}
