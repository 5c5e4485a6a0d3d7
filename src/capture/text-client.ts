import pg from 'pg';
import { DatabaseError } from '../errors.js';
import { redactUrl } from '../log/logger.js';

/** Idle time before TCP keepalive probes a capture connection. */
const KEEPALIVE_IDLE_MS = 10_000;

/** Type parsers that keep every value as PostgreSQL's own text output. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * Connect a client whose results are PostgreSQL's text output for every column (no parsing
 * into JS numbers or Dates), so values round-trip exactly. Connection failures become a
 * DatabaseError naming the redacted URL.
 *
 * @example
 * ```ts
 * const client = await connectText(url, 'capture');
 * const { rows } = await client.query('SELECT 9007199254740993::bigint AS n'); // n: '9007…93'
 * ```
 */
export async function connectText(
  databaseUrl: string,
  applicationName: string,
): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    types: TEXT_TYPES,
    application_name: applicationName,
    // Probes a silent peer, so a dead link ends in an error instead of waiting forever: the
    // first probe after 10 s without traffic (the system default is 2 h), then the system's
    // probe interval and count.
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(databaseUrl, error);
  }
  return client;
}

/**
 * A one-line DatabaseError for a failed connection, password redacted.
 *
 * @example
 * ```ts
 * throw connectionError(url, error); // connect to postgresql://app:***@db/prod: ECONNREFUSED
 * ```
 */
export function connectionError(databaseUrl: string, error: unknown): DatabaseError {
  const cause = error instanceof Error ? error.message : String(error);
  const safeCause = cause.replaceAll(databaseUrl, redactUrl(databaseUrl));
  return new DatabaseError(`connect to ${redactUrl(databaseUrl)}: ${safeCause || 'failed'}`, {
    hint: 'check --database-url (or DATABASE_URL) and that the server accepts connections',
  });
}

/** A short, row-free description of a database error for status().problem and logs. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code !== undefined && /^[0-9A-Z]{5}$/.test(code)
      ? `${error.message} (SQLSTATE ${code})`
      : error.message;
  }
  return String(error);
}
