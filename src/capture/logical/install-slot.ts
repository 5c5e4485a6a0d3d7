import type pg from 'pg';
import { DatabaseError, UsageError } from '../../errors.js';
import { quoteLiteral } from '../catalog.js';
import { describeError } from '../text-client.js';

/**
 * The statement `install --mode logical` runs after its transaction: create the pgoutput slot
 * unless one of that name exists. NOTE: outside the transaction, because PostgreSQL refuses to
 * create a logical slot in a transaction that has written (the publication).
 *
 * @example
 * ```ts
 * slotStatement('crypto_replicator');
 * // => "SELECT pg_create_logical_replication_slot('crypto_replicator', 'pgoutput') WHERE NOT EXISTS (…)"
 * ```
 */
export function slotStatement(slotName: string): string {
  const name = quoteLiteral(slotName);
  return `SELECT pg_create_logical_replication_slot(${name}, 'pgoutput')
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${name})`;
}

/**
 * Create the slot if it is missing, and check that a slot of that name is a pgoutput slot of
 * this database. From then on the server keeps the WAL of every change for the replicator; the
 * first `run` of a new stream makes the slot again with an exported snapshot, unless it runs with
 * `--no-snapshot`, which then streams every change since the install.
 *
 * @example
 * ```ts
 * const { created } = await installSlot(client, 'crypto_replicator');
 * ```
 */
export async function installSlot(
  client: pg.Client,
  slotName: string,
): Promise<{ created: boolean }> {
  let created: boolean;
  try {
    const result = await client.query(slotStatement(slotName));
    created = (result.rowCount ?? 0) > 0;
  } catch (error) {
    throw new DatabaseError(`create replication slot "${slotName}": ${describeError(error)}`, {
      hint: 'logical mode needs wal_level=logical (restart after changing it), a free slot (max_replication_slots) and a role with REPLICATION',
    });
  }

  // A slot of that name made for something else would split or break the stream.
  const { rows } = await client.query<{ plugin: string | null; same: string | null }>(
    `SELECT plugin, (database = current_database())::text AS same FROM pg_replication_slots
      WHERE slot_name = $1`,
    [slotName],
  );
  const slot = rows[0];
  if (slot !== undefined && (slot.plugin !== 'pgoutput' || slot.same !== 'true')) {
    throw new UsageError(
      `install logical capture: replication slot "${slotName}" exists but is not a pgoutput slot of this database`,
      { hint: 'pick another name with --slot, or drop that slot if nothing uses it' },
    );
  }
  return { created };
}
