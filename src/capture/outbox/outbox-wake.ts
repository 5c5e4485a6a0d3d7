import type pg from 'pg';
import { WAKE_LOCK_KEYS } from '../install-sql.js';

/** How long an idle drainer waits for writers that skipped the wake-up to commit, in ms. */
export const WAKE_LOCK_TIMEOUT_MS = 100;

const KEYS = WAKE_LOCK_KEYS.join(', ');
/** SQLSTATE lock_not_available: lock_timeout expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Ask the writers for a wake-up: take the wake lock (session level) that makes their triggers
 * send a NOTIFY. A writer that looked before this skipped the NOTIFY but holds the lock shared
 * until its commit, so once this returns true every such writer has committed and a last look
 * at the outbox sees its change. Returns false when writers still hold the lock after
 * WAKE_LOCK_TIMEOUT_MS (a long transaction): the caller then polls instead.
 *
 * @example
 * ```ts
 * if (await holdWakeLock(client)) {
 *   try { await waitForNotification(); } finally { await releaseWakeLock(client); }
 * }
 * ```
 */
export async function holdWakeLock(client: pg.Client): Promise<boolean> {
  // NOTE: the timeout is SET LOCAL so that no other statement of the drain connection gets it;
  // a session-level advisory lock outlives the transaction it was taken in.
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = '${WAKE_LOCK_TIMEOUT_MS}ms'`);
    await client.query(`SELECT pg_advisory_lock(${KEYS})`);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
    throw error;
  }
}

/**
 * Stop asking for wake-ups (the drainer is busy again; writers skip the NOTIFY).
 *
 * @example
 * ```ts
 * await releaseWakeLock(client);
 * ```
 */
export async function releaseWakeLock(client: pg.Client): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(${KEYS})`);
}
