import type pg from 'pg';
import { DatabaseError } from '../../errors.js';
import { sleep } from '../backoff.js';

/**
 * How long a start waits for a slot another backend holds: after a SIGKILL of the previous
 * replicator the server may keep the slot active until it notices the closed connection.
 */
export const SLOT_GRACE_MS = 10_000;
const POLL_MS = 200;

/**
 * The pid of the backend that holds the slot, or undefined when nobody does (or the slot does
 * not exist).
 *
 * @example
 * ```ts
 * const pid = await slotHolder(control, 'crypto_replicator');
 * ```
 */
export async function slotHolder(client: pg.Client, slotName: string): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: string | null }>(
    `SELECT active_pid::text AS pid FROM pg_replication_slots
      WHERE slot_name = $1 AND database = current_database()`,
    [slotName],
  );
  const pid = rows[0]?.pid;
  return pid === null || pid === undefined ? undefined : Number(pid);
}

/** The error of a slot that another process holds, with what to do. */
export function slotInUseError(slotName: string, pid: number): DatabaseError {
  return new DatabaseError(
    `start logical capture: replication slot "${slotName}" is in use by another process (pid ${pid})`,
    {
      hint: `another replicator (or client) streams from this slot: stop it, or give this one its own --slot; pg_stat_activity shows pid ${pid}`,
    },
  );
}

/**
 * Wait up to `graceMs` for the slot to be free; refuse with a clear error when another process
 * still holds it then. Never takes a slot over from a live owner.
 *
 * @example
 * ```ts
 * await waitForSlotFree(control, 'crypto_replicator'); // throws "… is in use by another process"
 * ```
 */
export async function waitForSlotFree(
  client: pg.Client,
  slotName: string,
  graceMs = SLOT_GRACE_MS,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const pid = await slotHolder(client, slotName);
    if (pid === undefined || signal?.aborted) return;
    if (Date.now() >= deadline) throw slotInUseError(slotName, pid);
    await sleep(POLL_MS, signal);
  }
}
