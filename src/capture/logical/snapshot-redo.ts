import type pg from 'pg';
import { formatLsn, positionValue, type TableName } from '../../change/change.js';
import { DatabaseError } from '../../errors.js';
import { SNAPSHOT_CHUNK_ROWS } from '../snapshot-reader.js';
import { waitForSlotFree } from './slot-owner.js';

/**
 * Every commit LSN lies above this: WAL starts at the first segment, and a segment is at least
 * 1 MiB. A stored LSN-form position below it is a chunk of a first snapshot (`0/1`, `0/2`, …).
 */
const FIRST_WAL_LSN = 0x100000n;
/** A heap row takes at least a 24-byte header and a 4-byte line pointer. */
const MIN_ROW_BYTES = 28n;

/** How a snapshot taken again is numbered. */
export interface SnapshotRedo {
  /** Its transactions take positions base+1, base+2, … */
  base: bigint;
  /** The server's WAL position before the old slot was dropped, for the log. */
  floor: string;
}

/**
 * True when the stream may lack part of its initial snapshot: a snapshot is wanted and the
 * last stored position is none, or a snapshot position (snapshot transactions take decimal
 * positions; older versions used `0/1`, `0/2`, …), never a streamed commit.
 *
 * @example
 * ```ts
 * snapshotUnfinished({ snapshot: true, resumePosition: '0/16B3748' }); // => false
 * ```
 */
export function snapshotUnfinished(options: { snapshot: boolean; resumePosition?: string }) {
  if (!options.snapshot) return false;
  const resume = options.resumePosition;
  if (resume === undefined) return true;
  return !resume.includes('/') || positionValue(resume) < FIRST_WAL_LSN;
}

/**
 * Drop the slot whose snapshot was never stored whole (`drop`), and make room in the WAL for a new
 * snapshot's positions: they must lie above every position that may already be stored (the
 * current WAL position bounds them all) and below the new slot's consistent point, so a
 * non-transactional logical message as large as the most snapshot transactions the tables can
 * give is written first (pgoutput does not forward it).
 *
 * @example
 * ```ts
 * const redo = await prepareSnapshotRedo(control, 'crypto_replicator', tables, '3', { drop: true });
 * ```
 */
export async function prepareSnapshotRedo(
  control: pg.Client,
  slotName: string,
  tables: TableName[],
  resumePosition: string | undefined,
  options: { drop: boolean },
): Promise<SnapshotRedo> {
  // The slot must be ours to drop: its last owner may still be going away.
  if (options.drop) {
    await waitForSlotFree(control, slotName);
    try {
      await control.query('SELECT pg_drop_replication_slot($1)', [slotName]);
    } catch (error) {
      throw new DatabaseError(
        `drop replication slot "${slotName}" to retake the snapshot: ${(error as Error).message}`,
        { hint: 'stop whatever uses the slot, then start the replicator again' },
      );
    }
  }

  // Room: one position per chunk of at most SNAPSHOT_CHUNK_ROWS rows, twice over, plus the
  // TRUNCATE and slack for rows written meanwhile.
  let chunks = 1024n;
  for (const table of tables) {
    const { rows } = await control.query<{ bytes: string }>(
      `SELECT coalesce(sum(pg_relation_size(relid)), 0)::text AS bytes
         FROM pg_partition_tree(format('%I.%I', $1::text, $2::text)::regclass)`,
      [table.schema, table.name],
    );
    chunks += BigInt(rows[0]?.bytes ?? '0') / MIN_ROW_BYTES / BigInt(SNAPSHOT_CHUNK_ROWS) + 1n;
  }
  // NOTE: the insert position, which is past every commit already made, also asynchronous
  // ones (synchronous_commit off) that pg_current_wal_lsn() may not reach yet.
  const { rows } = await control.query<{ floor: string }>(
    `SELECT pg_current_wal_insert_lsn()::text AS floor,
            pg_logical_emit_message(false, 'crypto-replicator', repeat('x', $1::int)::bytea)`,
    [Number(chunks * 2n)],
  );
  const floor = positionValue(rows[0]!.floor);
  const resume = resumePosition === undefined ? 0n : positionValue(resumePosition);
  return { base: floor > resume ? floor : resume, floor: formatLsn(floor) };
}
