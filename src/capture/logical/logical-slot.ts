import pg from 'pg';
import { positionValue } from '../../change/change.js';
import { DatabaseError } from '../../errors.js';
import { connectionError } from '../text-client.js';

/** A slot as pg_replication_slots reports it. */
export interface SlotState {
  confirmedFlush: bigint;
  walStatus: string | null;
  /** Bytes of WAL between the server's current position and the confirmed flush position. */
  lagBytes: number;
  active: boolean;
}

/** Identifier rule for slot and publication names (PostgreSQL's own rule for slot names). */
export const REPLICATION_NAME_PATTERN = /^[a-z0-9_]{1,63}$/;

/**
 * Read the slot's state, or undefined when the slot does not exist in this database.
 *
 * @example
 * ```ts
 * const state = await readSlot(client, 'crypto_replicator');
 * ```
 */
export async function readSlot(
  client: pg.Client,
  slotName: string,
): Promise<SlotState | undefined> {
  const { rows } = await client.query<{
    confirmed: string | null;
    wal_status: string | null;
    lag: string | null;
    active: string;
  }>(
    `SELECT confirmed_flush_lsn::text AS confirmed, wal_status,
            (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS lag, active::text AS active
       FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slotName],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    confirmedFlush: row.confirmed === null ? 0n : positionValue(row.confirmed),
    walStatus: row.wal_status,
    lagBytes: row.lag === null ? 0 : Number(row.lag),
    active: row.active === 'true',
  };
}

/** A slot that PostgreSQL invalidated: its WAL is gone, so changes are missing. */
export function lostSlotError(slotName: string, what: string): DatabaseError {
  return new DatabaseError(
    `capture from replication slot "${slotName}": ${what}; changes made since the last stored position cannot be captured`,
    {
      hint: 'run "crypto-replicator uninstall --mode logical" and "install --mode logical", then start a new stream (empty --state-dir) so a fresh snapshot is taken; raise max_slot_wal_keep_size to prevent it',
    },
  );
}

/** What CREATE_REPLICATION_SLOT answers. */
export interface CreatedSlot {
  consistentPoint: bigint;
  /** The exported snapshot; valid only while `connection` stays open and idle. */
  snapshotName: string | null;
  connection: pg.Client;
}

/**
 * Create a persistent pgoutput slot over a replication connection. With `exportSnapshot` the
 * answer names a snapshot that sees exactly the data the slot's stream starts after; the
 * caller imports it (`SET TRANSACTION SNAPSHOT`) and then closes `connection`.
 *
 * @example
 * ```ts
 * const slot = await createSlot(url, 'crypto_replicator', true);
 * ```
 */
export async function createSlot(
  databaseUrl: string,
  slotName: string,
  exportSnapshot: boolean,
): Promise<CreatedSlot> {
  // `replication` is a real libpq/pg option that @types/pg does not list.
  const config = {
    connectionString: databaseUrl,
    replication: 'database',
    keepAlive: true,
  } as pg.ClientConfig;
  const connection = new pg.Client(config);
  connection.on('error', () => {});
  try {
    await connection.connect();
  } catch (error) {
    throw connectionError(databaseUrl, error);
  }
  try {
    const mode = exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT';
    const { rows } = await connection.query<{
      consistent_point: string;
      snapshot_name: string | null;
    }>(`CREATE_REPLICATION_SLOT "${slotName}" LOGICAL pgoutput ${mode}`);
    const row = rows[0];
    if (row === undefined) throw new Error('no answer');
    return {
      consistentPoint: positionValue(row.consistent_point),
      snapshotName: row.snapshot_name,
      connection,
    };
  } catch (error) {
    await connection.end().catch(() => {});
    throw new DatabaseError(`create replication slot "${slotName}": ${(error as Error).message}`, {
      hint: 'the role needs the REPLICATION attribute and the server wal_level=logical',
    });
  }
}
