import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installCapture } from '../../../src/capture/index.js';
import { loadIdentity, loadVerifyKey } from '../../../src/keys/index.js';
import { restore } from '../../../src/restore/restore.js';
import type { RestoreReport } from '../../../src/restore/restore-report.js';
import { openStore } from '../../../src/store/open-store.js';
import { freePort, type TestPostgres } from '../postgres.js';
import { waitFor } from '../wait-for.js';
import { type CheckResult, checkRestored, FAULT_TABLES } from './checker.js';
import { FAULT_KEYS } from './fault-keys.js';
import { FAULT_DDL, type FaultWorkload } from './fault-workload.js';
import {
  type ReplicatorProcess,
  type StartedReplicator,
  startReplicator,
  tail,
} from './replicator-process.js';

export type FaultMode = 'notify' | 'outbox' | 'logical';

/** One scenario's source database, store, state folder and the way to run the replicator. */
export interface FaultRig {
  mode: FaultMode;
  database: string;
  /** The source, reached directly (the workload uses this). */
  sourceUrl: string;
  slot: string;
  work: string;
  storeUrl: string;
  stateDir: string;
  /** Start the real `run` CLI; `databaseUrl` lets a scenario route it through a proxy. */
  start(extra?: {
    databaseUrl?: string;
    storeUrl?: string;
    stateDir?: string;
    args?: string[];
  }): Promise<StartedReplicator>;
  /** True once the source holds nothing the replicator has not stored (logical, outbox). */
  caughtUp(replicator?: ReplicatorProcess): Promise<boolean>;
  /** Mark the source's current end; {@link caughtUp} then waits for everything before it. */
  markEnd(): Promise<void>;
  /** Restore the store into a fresh database of the same server; returns its URL. */
  restoreFresh(name?: string): Promise<{ url: string; report: RestoreReport }>;
  cleanup(): Promise<void>;
}

/**
 * Prepare a scenario: a database with the fault tables on `server`, capture installed for the
 * mode, a folder store (or `storeUrl`), a state folder, and the replicator's command line
 * with short health thresholds (1 s) so that health reports trouble quickly.
 *
 * @example
 * ```ts
 * const rig = await createRig(server, 'logical', 'kill_logical');
 * const replicator = await rig.start();
 * ```
 */
export async function createRig(
  server: TestPostgres,
  mode: FaultMode,
  name: string,
  options: { storeUrl?: string; token?: string; readToken?: string } = {},
): Promise<FaultRig> {
  const work = await mkdtemp(join(tmpdir(), `cr-faults-${name}-`));
  const slot = `slot_${name}`.toLowerCase();
  let sourceUrl: string;
  try {
    sourceUrl = await server.createDatabase(name);
    await server.query(FAULT_DDL, [], name);
    await installCapture({
      mode,
      databaseUrl: sourceUrl,
      tables: FAULT_TABLES,
      slotName: slot,
      publicationName: `pub_${name}`.toLowerCase(),
    });
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
  const storeUrl = options.storeUrl ?? join(work, 'store');
  const stateDir = join(work, 'state');
  await mkdir(stateDir, { recursive: true });
  let end: string | undefined;
  let restores = 0;
  let current: StartedReplicator | undefined;

  const rig: FaultRig = {
    mode,
    database: name,
    sourceUrl,
    slot,
    work,
    storeUrl,
    stateDir,
    async start(extra = {}) {
      const metricsPort = await freePort();
      const args = [
        '--database-url',
        extra.databaseUrl ?? sourceUrl,
        '--mode',
        mode,
        '--store',
        extra.storeUrl ?? storeUrl,
        '--recipient',
        FAULT_KEYS.recoveryPub,
        '--signing-key',
        FAULT_KEYS.signingPem,
        '--tables',
        'fault_events,fault_counters',
        '--state-dir',
        extra.stateDir ?? stateDir,
        '--slot',
        slot,
        '--publication',
        `pub_${name}`.toLowerCase(),
        '--flush-interval',
        '100',
        '--checkpoint-interval',
        '0',
        '--health-store-stall',
        '1',
        '--health-capture-stall',
        '1',
        '--ready-max-lag',
        '5',
        '--log-level',
        'info',
        ...(extra.args ?? []),
      ];
      const env = options.token === undefined ? {} : { CLOUD_API_TOKEN: options.token };
      current = startReplicator(args, { metricsPort, env });
      return current;
    },
    async markEnd() {
      if (mode === 'logical') {
        // The insert position, not the write position: the test server commits asynchronously
        // (synchronous_commit off), so a commit the client saw may still be ahead of
        // pg_current_wal_lsn(), and a slot confirmed up to that would be judged caught up early.
        const rows = await server.query<{ lsn: string }>(
          'SELECT pg_current_wal_insert_lsn()::text AS lsn',
          [],
          name,
        );
        end = rows[0]!.lsn;
      } else {
        end =
          (
            await server.query<{ id: string | null }>(
              'SELECT max(id)::text AS id FROM crypto_replicator.outbox',
              [],
              name,
            )
          )[0]!.id ?? '0';
      }
    },
    async caughtUp(replicator?: ReplicatorProcess) {
      if (end === undefined) throw new Error('markEnd() first');
      if (mode === 'logical') {
        const rows = await server.query<{ done: boolean }>(
          'SELECT confirmed_flush_lsn >= $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $2',
          [end, slot],
          name,
        );
        // The slot alone is not enough: a start that retakes the initial snapshot makes a new
        // slot whose start is already past `end` while the snapshot is not stored yet. The
        // replicator itself must have acknowledged a position at or past `end`.
        return rows[0]?.done === true && (await snapshotAcknowledged(replicator ?? current));
      }
      const rows = await server.query<{ n: string }>(
        'SELECT count(*) AS n FROM crypto_replicator.outbox WHERE id <= $1::bigint',
        [end],
        name,
      );
      return rows[0]?.n === '0';
    },
    async restoreFresh(target = `${name}_restored_${++restores}`) {
      const url = await server.createDatabase(target);
      const store = await openStore(storeUrl, { token: options.readToken ?? options.token });
      try {
        const report = await restore({
          store,
          identities: [await loadIdentity(FAULT_KEYS.recoveryPem, {})],
          verifyKey: await loadVerifyKey(FAULT_KEYS.signingPub),
          to: url,
        });
        return { url, report };
      } finally {
        await store.close();
      }
    },
    async cleanup() {
      // FAULTS_KEEP=1 keeps the store and state folder for an investigation.
      if (process.env.FAULTS_KEEP === '1') {
        console.log(`[faults] kept ${work}`);
        return;
      }
      await rm(work, { recursive: true, force: true });
    },
  };
  return rig;
}

/**
 * True when the replicator holds nothing unacknowledged and, if this process created the slot
 * (first start, or a start that retook an initial snapshot which was never stored), has received
 * every transaction of that snapshot. The slot alone says too little: a retaken snapshot makes a
 * new slot whose start is already past the source's end while the snapshot is not stored yet.
 */
async function snapshotAcknowledged(replicator: ReplicatorProcess | undefined): Promise<boolean> {
  if (replicator?.metricsPort === undefined) return false;
  const url = `http://127.0.0.1:${replicator.metricsPort}/metrics`;
  const response = await fetch(url).catch(() => undefined);
  if (response === undefined || !response.ok) return false;
  const text = await response.text();
  const metric = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`crypto_replicator_${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };
  if (metric('pending_transactions') !== 0) return false;

  // The snapshot's transactions come first in a new slot's stream.
  const log = replicator.output();
  const created = log.lastIndexOf('"replication slot created"');
  if (created === -1) return true;
  const read = /"transactions":(\d+)[^\n]*"initial snapshot read"/.exec(log.slice(created));
  if (read === null) return false;
  return (metric('transactions_captured_total') ?? 0) >= Number(read[1]);
}

/**
 * Mark the source's end, then wait until the replicator has stored and acknowledged
 * everything before it; returns the milliseconds that took (the time to catch up).
 *
 * @example
 * ```ts
 * const catchUpMs = await timeToCatchUp(rig);
 * ```
 */
export async function timeToCatchUp(
  rig: FaultRig,
  timeoutMs = 120_000,
  replicator?: ReplicatorProcess,
): Promise<number> {
  const started = Date.now();
  await rig.markEnd();
  await waitFor(() => rig.caughtUp(replicator), {
    timeoutMs,
    intervalMs: 50,
    what: `${rig.mode} replicator to catch up`,
  });
  return Date.now() - started;
}

/**
 * End of a scenario: stop the workload, wait until the replicator has stored everything the
 * source holds (not for notify, which has no backlog to read), stop it with SIGTERM (it must
 * exit 0), restore the store into a fresh database and run the checker.
 *
 * @example
 * ```ts
 * const { result } = await drainAndCheck(rig, workload, replicator);
 * ```
 */
export async function drainAndCheck(
  rig: FaultRig,
  workload: FaultWorkload,
  replicator: ReplicatorProcess,
): Promise<{ result: CheckResult; drainMs?: number; exitCode: number | string }> {
  const history = await workload.stop();

  // Drained, unless the replicator stops by itself meanwhile (then say why at once).
  const exitedEarly = replicator.exited.then((code) => {
    throw new Error(`the replicator exited ${code} while draining:\n${tail(replicator.output())}`);
  });
  exitedEarly.catch(() => {});
  const drainMs = await Promise.race([drained(rig, replicator), exitedEarly]);
  const exitCode = await replicator.stop();
  const { url } = await rig.restoreFresh();
  const result = await checkRestored({ history, sourceUrl: rig.sourceUrl, restoredUrl: url });
  return { result, drainMs, exitCode };
}

/**
 * Wait until the replicator has stored everything written so far, in any mode (notify: its
 * spool; logical and outbox: the source); returns the milliseconds that took.
 *
 * @example
 * ```ts
 * const drainMs = await drained(rig, replicator, 1_800_000);
 * ```
 */
export function drained(
  rig: FaultRig,
  replicator: ReplicatorProcess,
  timeoutMs = 120_000,
): Promise<number> {
  return rig.mode === 'notify'
    ? notifyDrained(replicator, timeoutMs)
    : timeToCatchUp(rig, timeoutMs, replicator);
}

/**
 * notify mode has no backlog in the source: wait until its spool is empty and nothing received
 * waits unstored (from /metrics); returns the milliseconds that took.
 */
async function notifyDrained(replicator: ReplicatorProcess, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  const gauge = (text: string, name: string) =>
    Number(new RegExp(`^crypto_replicator_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  await waitFor(
    async () => {
      const metrics = (await replicator.probe('/metrics'))?.body ?? '';
      return gauge(metrics, 'spool_depth') === 0 && gauge(metrics, 'pending_transactions') === 0;
    },
    { timeoutMs, what: 'the notify spool to drain' },
  );
  return Date.now() - started;
}
