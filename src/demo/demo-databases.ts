import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/logger.js';
import type { CleanupStack } from './cleanup-stack.js';
import { type EmbeddedServer, startEmbeddedServer } from './embedded-server.js';

/** The two databases of the demo: the one followed, and the fresh one restored into. */
export interface DemoDatabases {
  sourceUrl: string;
  targetUrl: string;
  /** Where they live, printable (no password). */
  where: string;
  /** The embedded server when the demo started one. */
  server?: EmbeddedServer;
  /** Its server's `wal_level`. */
  walLevel: string;
}

export interface DemoDatabaseOptions {
  /** Use this server instead of an embedded one (`DATABASE_URL`). */
  databaseUrl?: string;
  /** Folder for the embedded server. */
  dir: string;
  cleanup: CleanupStack;
  logger: Logger;
}

/**
 * Provide two empty databases: on an embedded PostgreSQL started for the demo, or, when a
 * server is given, as two new databases on it (named `cr_demo_<random>_…`, dropped again at
 * the end) so that no existing data is touched.
 *
 * @example
 * ```ts
 * const dbs = await prepareDemoDatabases({ dir, cleanup, logger });
 * ```
 */
export async function prepareDemoDatabases(options: DemoDatabaseOptions): Promise<DemoDatabases> {
  // An embedded server of our own: its databases go with it.
  if (options.databaseUrl === undefined) {
    const server = await startEmbeddedServer({
      dir: join(options.dir, 'postgres'),
      logger: options.logger,
    });
    options.cleanup.push('stop the embedded postgresql server', () => server.stop());
    const sourceUrl = await server.createDatabase('demo_source');
    const targetUrl = await server.createDatabase('demo_restored');
    return {
      sourceUrl,
      targetUrl,
      server,
      where: `embedded PostgreSQL 15 on 127.0.0.1:${server.port}`,
      walLevel: await walLevel(sourceUrl),
    };
  }

  // A given server: two new databases beside the existing ones.
  const adminUrl = options.databaseUrl;
  const prefix = `cr_demo_${randomBytes(4).toString('hex')}`;
  const names = [`${prefix}_source`, `${prefix}_restored`];
  for (const name of names) {
    await adminQuery(adminUrl, (client) => `CREATE DATABASE ${client.escapeIdentifier(name)}`);
    options.cleanup.push(`drop database ${name}`, () => dropDemoDatabase(adminUrl, name));
  }
  return {
    sourceUrl: withDatabase(adminUrl, names[0]!),
    targetUrl: withDatabase(adminUrl, names[1]!),
    where: `${names.join(' and ')} on ${redactUrl(adminUrl)}`,
    walLevel: await walLevel(adminUrl),
  };
}

/**
 * The same connection URL with another database name.
 *
 * @example
 * ```ts
 * withDatabase('postgresql://u@db:5432/app', 'copy'); // => 'postgresql://u@db:5432/copy'
 * ```
 */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Drop a demo database and the replication slots that pin it. */
async function dropDemoDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, () => ({
    text: `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
            WHERE database = $1 AND NOT active`,
    values: [name],
  }));
  await adminQuery(
    adminUrl,
    (client) => `DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`,
  );
}

async function walLevel(url: string): Promise<string> {
  const rows = await adminQuery(url, () => 'SHOW wal_level');
  return String(rows[0]?.wal_level ?? 'unknown');
}

async function adminQuery(
  url: string,
  build: (client: pg.Client) => string | { text: string; values: unknown[] },
): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return (await client.query(build(client))).rows;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseError(`prepare demo database on ${redactUrl(url)}: ${reason}`, {
      hint: 'the demo needs a role with CREATEDB; unset DATABASE_URL to use an embedded server',
      cause: error,
    });
  } finally {
    await client.end().catch(() => {});
  }
}
