import type pg from 'pg';
import { CAPTURE_SCHEMA } from '../install-sql.js';
import { OUTBOX_CHANGES } from './outbox-rows.js';

const S = CAPTURE_SCHEMA;

/**
 * Most changes stamped by one drain round (whole transactions; at least one). A chunk row
 * counts as the number of rows it carries.
 */
export const DRAIN_BATCH_ROWS = 10_000;

/**
 * Stamp the next committed transactions in the outbox with drain positions, in one
 * REPEATABLE READ transaction so that what is counted is exactly what is stamped.
 *
 * Order: transactions by the largest row id they wrote. If T2 changed a row after T1
 * committed, T2's row id was drawn after every id of T1, so T2 sorts after T1; and T1, being
 * committed before T2, is visible whenever T2 is. Positions come from one sequence, so they
 * grow with every round; rows keep their position until acknowledged.
 *
 * @example
 * ```ts
 * const transactions = await stampPending(client); // 0 when nothing is waiting
 * ```
 */
export async function stampPending(client: pg.Client, maxRows = DRAIN_BATCH_ROWS): Promise<number> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    // Committed, unstamped transactions in order, up to the row budget.
    const pending = await client.query<{ xid: string }>(
      `WITH pending AS (
         SELECT xid, max(id) AS last_id, sum(${OUTBOX_CHANGES}) AS n FROM ${S}.outbox
          WHERE position IS NULL GROUP BY xid),
       ranked AS (
         SELECT xid, last_id, row_number() OVER (ORDER BY last_id) AS rank,
                sum(n) OVER (ORDER BY last_id) AS running FROM pending)
       SELECT xid::text FROM ranked WHERE running <= $1 OR rank = 1 ORDER BY last_id`,
      [maxRows],
    );
    const xids = pending.rows.map((row) => row.xid);
    if (xids.length === 0) {
      await client.query('COMMIT');
      return 0;
    }

    // Reserve one position per transaction: first … first + count - 1.
    const first = await client.query<{ first: string }>(
      `SELECT nextval('${S}.drain_position')::text AS first`,
    );
    const base = BigInt(first.rows[0]!.first);
    await client.query(`SELECT setval('${S}.drain_position', $1)`, [
      String(base + BigInt(xids.length) - 1n),
    ]);
    await client.query(
      `UPDATE ${S}.outbox o SET position = $2::bigint + t.ord - 1
         FROM unnest($1::text[]::xid8[]) WITH ORDINALITY AS t(xid, ord)
        WHERE o.xid = t.xid AND o.position IS NULL`,
      [xids, String(base)],
    );
    await client.query('COMMIT');
    return xids.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
