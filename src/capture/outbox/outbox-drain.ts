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
 * A round looks at the `windowRows` waiting rows with the smallest ids (largest id W), not at
 * the whole backlog: a transaction with no waiting row beyond W lies wholly in the window and
 * its largest id is at most W, while every other transaction's largest id is above W. So the
 * whole transactions of the window, in order, are the next ones in the outbox's order. Only
 * when the window holds no whole transaction (one transaction larger than the window) does
 * the round read the whole backlog; and always with a `windowRows` of 0 (see drainWindowRows).
 *
 * @example
 * ```ts
 * const transactions = await stampPending(client); // 0 when nothing is waiting
 * ```
 */
export async function stampPending(
  client: pg.Client,
  maxRows = DRAIN_BATCH_ROWS,
  windowRows = DRAIN_WINDOW_ROWS,
): Promise<number> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    let xids = windowRows > 0 ? await nextInWindow(client, maxRows, windowRows) : undefined;
    if (xids === undefined) xids = await nextInBacklog(client, maxRows);
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

/**
 * Waiting rows a round looks at first (see stampPending). Each is one outbox row, which may carry
 * up to a chunk of changes; the change budget still applies within the window.
 */
export const DRAIN_WINDOW_ROWS = 10_000;

/**
 * The window a drain round can use on this outbox: DRAIN_WINDOW_ROWS, or 0 when the outbox
 * lacks the indexes on its waiting rows (installed before them). Without them the window's
 * query scans the outbox once per transaction, far slower than grouping the whole backlog.
 *
 * @example
 * ```ts
 * await stampPending(client, DRAIN_BATCH_ROWS, await drainWindowRows(client));
 * ```
 */
export async function drainWindowRows(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ ok: boolean | string }>(
    `SELECT to_regclass('${S}.outbox_waiting') IS NOT NULL
        AND to_regclass('${S}.outbox_waiting_xid') IS NOT NULL AS ok`,
  );
  const ok = rows[0]?.ok;
  return ok === true || ok === 't' ? DRAIN_WINDOW_ROWS : 0;
}

/**
 * The whole transactions among the `windowRows` oldest waiting rows, in order, up to the
 * budget; [] when nothing waits; undefined when the window is full and holds no whole
 * transaction.
 */
async function nextInWindow(
  client: pg.Client,
  maxRows: number,
  windowRows: number,
): Promise<string[] | undefined> {
  // NOTE: the window must come from the index in id order. The outbox's statistics are often
  // stale (it fills and empties faster than autovacuum analyzes it), and with them the planner
  // has chosen to fetch every waiting row and sort them, which is the whole-backlog cost again.
  await client.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off');
  const { rows } = await client.query<{ xid: string | null; window_rows: string }>(
    `WITH win AS (
       SELECT id, xid, ${OUTBOX_CHANGES} AS n FROM ${S}.outbox
        WHERE position IS NULL ORDER BY id LIMIT $2),
     edge AS (SELECT max(id) AS w, count(*) AS window_rows FROM win),
     seen AS (SELECT xid, max(id) AS last_id, sum(n) AS n FROM win GROUP BY xid),
     whole AS (
       SELECT seen.* FROM seen, edge
        WHERE edge.window_rows < $2 OR NOT EXISTS (
          SELECT 1 FROM ${S}.outbox o
           WHERE o.xid = seen.xid AND o.position IS NULL AND o.id > edge.w)),
     ranked AS (
       SELECT xid, last_id, row_number() OVER (ORDER BY last_id) AS rank,
              sum(n) OVER (ORDER BY last_id) AS running FROM whole)
     SELECT ranked.xid::text, edge.window_rows::text FROM edge
       LEFT JOIN ranked ON ranked.running <= $1 OR ranked.rank = 1
      ORDER BY ranked.last_id`,
    [maxRows, windowRows],
  );
  await client.query('RESET enable_seqscan; RESET enable_bitmapscan');
  const xids = rows.flatMap((row) => (row.xid === null ? [] : [row.xid]));
  if (xids.length === 0 && Number(rows[0]?.window_rows ?? 0) >= windowRows) return undefined;
  return xids;
}

/** The next transactions in order up to the budget, from the whole backlog (at least one). */
async function nextInBacklog(client: pg.Client, maxRows: number): Promise<string[]> {
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
  return pending.rows.map((row) => row.xid);
}
