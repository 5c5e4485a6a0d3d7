import type pg from 'pg';
import { DatabaseError } from '../../errors.js';
import { sleep } from '../backoff.js';
import { CAPTURE_SCHEMA } from '../install-sql.js';

const S = CAPTURE_SCHEMA;
/** Advisory lock key: one drainer per database. */
const DRAIN_LOCK = `hashtext('${S}.outbox')`;
/**
 * How long a start waits for the drain lock: after a SIGKILL of the previous replicator its
 * backend holds the lock until the server notices the closed connection.
 */
export const DRAIN_LOCK_GRACE_MS = 15_000;
const LOCK_POLL_MS = 250;

/**
 * Try the one-drainer lock (session level) until it is ours, `graceMs` have passed, or `signal`
 * aborts. The connection is expected to return booleans as text (`connectText`).
 *
 * @example
 * ```ts
 * if (!(await takeDrainLock(client, DRAIN_LOCK_GRACE_MS, signal))) refuse();
 * ```
 */
export async function takeDrainLock(
  client: pg.Client,
  graceMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const lock = await client.query(`SELECT pg_try_advisory_lock(${DRAIN_LOCK}) AS ok`);
    if (lock.rows[0]?.ok === 't') return true;
    if (Date.now() >= deadline || signal.aborted) return false;
    await sleep(LOCK_POLL_MS, signal);
  }
}

/**
 * Refuse an outbox that is missing, or too old for this drain (it reads chunk rows), with a
 * DatabaseError that says to run install.
 *
 * @example
 * ```ts
 * await checkInstalled(client); // throws 'start outbox capture: the outbox is not installed'
 * ```
 */
export async function checkInstalled(client: pg.Client): Promise<void> {
  const installed = await client.query(`SELECT to_regclass('${S}.outbox') IS NOT NULL AS ok`);
  if (installed.rows[0]?.ok !== 't') {
    throw new DatabaseError('start outbox capture: the outbox is not installed', {
      hint: 'run "crypto-replicator install --mode outbox --tables …" first',
    });
  }
  const chunked = await client.query(
    `SELECT 1 FROM pg_attribute WHERE attrelid = '${S}.outbox'::regclass AND attname = 'new_rows'`,
  );
  if (chunked.rows.length === 0) {
    throw new DatabaseError(
      'start outbox capture: the outbox was installed by an earlier version',
      {
        hint: 'run "crypto-replicator install --mode outbox --tables …" again; it upgrades the outbox and keeps what waits in it',
      },
    );
  }
}
