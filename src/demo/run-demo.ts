import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptureMode } from '../capture/capture-source.js';
import { createCaptureSource, installCapture } from '../capture/index.js';
import { UsageError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { Replicator } from '../pipeline/index.js';
import { compareDatabases } from '../restore/compare-databases.js';
import { restore } from '../restore/restore.js';
import { verifyStore } from '../restore/verify-store.js';
import type { CleanupStack } from './cleanup-stack.js';
import { CountingSource } from './counting-source.js';
import { prepareDemoDatabases } from './demo-databases.js';
import { prepareDemoFolder } from './demo-folder.js';
import { makeDemoKeys } from './demo-keys.js';
import { type DemoOutput, formatCount } from './demo-progress.js';
import { openDemoStores } from './demo-stores.js';
import { type DemoSummary, secondsText, shortId } from './demo-summary.js';
import {
  createSampleTable,
  newMarker,
  plannedChanges,
  runSampleWorkload,
  SAMPLE_TABLE,
} from './sample-workload.js';
import { searchStore } from './search-store.js';
import { waitUntil } from './wait-until.js';

/** Default number of sample rows inserted (updates and deletes follow in proportion). */
export const DEFAULT_DEMO_ROWS = 2_000;
/** Flush interval of the demo's replicator: short, so segments appear while you watch. */
export const DEMO_FLUSH_INTERVAL_MS = 200;
/** How long the demo waits for the replicator to store the last change. */
export const DEMO_CATCH_UP_TIMEOUT_MS = 60_000;

export interface DemoOptions {
  /** Demo folder; a new temporary one when absent. */
  dir?: string;
  /** Keep the folder (keys, store, restore report) after the demo. */
  keep?: boolean;
  rows?: number;
  mode?: CaptureMode;
  /** Store through a local vault server instead of a folder. */
  vault?: boolean;
  /** A PostgreSQL server to use instead of the embedded one. */
  databaseUrl?: string;
  output: DemoOutput;
  /** Undo steps are registered here as resources are made; the caller runs it (also on Ctrl-C). */
  cleanup: CleanupStack;
  /** Set on Ctrl-C: the demo stops at the next step. */
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * The whole promise, end to end, on throwaway resources: a database, capture, the replicator
 * into a store that cannot read what it holds, a workload, then verify, restore into a fresh
 * database with the private key, and compare. Returns the figures for the summary.
 *
 * @example
 * ```ts
 * const cleanup = new CleanupStack();
 * try {
 *   const summary = await runDemo({ output: createDemoOutput(process.stdout), cleanup });
 * } finally {
 *   await cleanup.run();
 * }
 * ```
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const rows = options.rows ?? DEFAULT_DEMO_ROWS;
  const mode = options.mode ?? 'logical';
  const logger = options.logger ?? silentLogger;
  const { output, cleanup } = options;
  const checkAbort = () => {
    if (options.signal?.aborted === true) throw new UsageError('run demo: interrupted');
  };
  if (!Number.isInteger(rows) || rows < 10 || rows > 1_000_000) {
    throw new UsageError(`invalid --rows "${rows}": expected a whole number from 10 to 1000000`);
  }

  // The demo folder holds everything the demo makes; it goes at the end unless kept.
  const dir = await prepareDemoFolder(options.dir);
  if (options.keep !== true) {
    cleanup.push('delete the demo folder', () => rm(dir, { recursive: true, force: true }));
  }
  output.line(`Crypto-Replicator demo: every key, database and store here is throwaway`);
  output.line(
    `  demo folder: ${dir}${options.keep === true ? ' (kept)' : ' (deleted at the end)'}`,
  );

  // 1. Two databases: the one followed and the fresh one restored into.
  let started = Date.now();
  const dbs = await prepareDemoDatabases({
    databaseUrl: options.databaseUrl,
    dir,
    cleanup,
    logger,
  });
  output.line(`[1/6] databases: ${dbs.where}, wal_level=${dbs.walLevel} (${seconds(started)})`);
  if (mode === 'logical' && dbs.walLevel !== 'logical') {
    throw new UsageError(`run demo in logical mode: the server has wal_level=${dbs.walLevel}`, {
      hint: 'set wal_level=logical and restart the server, or pass --mode outbox',
    });
  }
  checkAbort();

  // 2. Throwaway keys, labelled as such.
  started = Date.now();
  const keys = await makeDemoKeys(dir);
  output.line(
    `[2/6] throwaway keys in ${keys.dir}: recovery RSA-${keys.recipient.bits} ` +
      `(key id ${shortId(keys.recipient.keyId)}), signing Ed25519 (key id ` +
      `${shortId(keys.signingKey.keyId)}) (${seconds(started)})`,
  );
  checkAbort();

  // 3. The sample table and the capture set-up for the chosen mode.
  await createSampleTable(dbs.sourceUrl);
  const table = { schema: 'public', name: 'nis2_audit_log' };
  await installCapture({ mode, databaseUrl: dbs.sourceUrl, tables: [table] });
  output.line(`[3/6] capture: ${mode} mode installed for ${SAMPLE_TABLE}`);
  checkAbort();

  // 4. The store (a folder, or a local vault over a folder) and the replicator.
  const stores = await openDemoStores({ dir, vault: options.vault === true, cleanup, logger });
  const source = new CountingSource(
    createCaptureSource({
      mode,
      databaseUrl: dbs.sourceUrl,
      tables: [table],
      // notify mode keeps a durable spool in the state folder, as `run` does.
      spoolDir: join(dir, 'state', 'spool'),
      logger,
    }),
  );
  const replicator = new Replicator({
    source,
    store: stores.write,
    recipients: [keys.recipient],
    signingKey: keys.signingKey,
    stateDir: join(dir, 'state'),
    format: 'v2',
    flushIntervalMs: DEMO_FLUSH_INTERVAL_MS,
    checkpointIntervalMs: 0,
    logger,
  });
  await replicator.start();
  cleanup.push('stop the replicator', () => replicator.stop());
  output.line(`[4/6] replicator running: ${mode} capture → ${stores.description}`);
  checkAbort();

  // 5. The workload, replicated while it runs.
  const marker = newMarker();
  const planned = plannedChanges(rows);
  const total = planned.inserts + planned.updates + planned.deletes;
  output.line(
    `[5/6] writing ${formatCount(planned.inserts)} inserts, ${formatCount(planned.updates)} ` +
      `updates and ${formatCount(planned.deletes)} deletes to ${SAMPLE_TABLE}`,
  );
  const replicationStarted = Date.now();
  const writing = output.phase('written', total);
  const workload = await runSampleWorkload({
    databaseUrl: dbs.sourceUrl,
    rows,
    marker,
    onProgress: (done) => writing.update(done),
    aborted: () => options.signal?.aborted === true,
  });
  const writesEnded = Date.now();
  checkAbort();
  writing.done(
    `  wrote ${formatCount(total)} changes in ${formatCount(workload.transactions)} ` +
      `transactions (${seconds(replicationStarted)})`,
  );

  // Wait until the replicator has stored and acknowledged every change written.
  const stored = output.phase('stored', total);
  await waitUntil(
    () => {
      stored.update(source.storedChanges);
      const failed = replicator.status();
      if (failed.state === 'failed') {
        throw new Error(`replicate demo changes: ${failed.error ?? 'replicator failed'}`);
      }
      return source.storedChanges >= total;
    },
    { timeoutMs: DEMO_CATCH_UP_TIMEOUT_MS, signal: options.signal, what: 'every change stored' },
  );
  const replicationMs = Date.now() - replicationStarted;
  const catchUpMs = Date.now() - writesEnded;
  const status = replicator.status();
  await replicator.stop();
  stored.done(
    `  replicated ${formatCount(source.storedChanges)} changes into ` +
      `${formatCount(status.lastSequence ?? 0)} sealed segments (${seconds(replicationStarted)})`,
  );
  checkAbort();

  // What the store holds, and that a known value from the rows appears nowhere in it.
  const search = await searchStore(stores.read, marker);
  checkAbort();

  // 6. Verify with public keys, restore with the private key, compare.
  started = Date.now();
  const verify = await verifyStore({ store: stores.read, verifyKey: keys.verifyKey, logger });
  const restoring = output.phase('restored', total);
  const report = await restore({
    store: stores.read,
    identities: [keys.identity],
    verifyKey: keys.verifyKey,
    to: dbs.targetUrl,
    signal: options.signal,
    onProgress: (event) => restoring.update(event.changesApplied),
    logger,
  });
  // NOTE: a logical stream opens with its initial snapshot (a TRUNCATE, and the rows that were
  // there): say so rather than show more changes restored than were written.
  const applied = report.streams[0]?.changesApplied ?? 0;
  const extra =
    applied > total
      ? `: the ${formatCount(total)} written and ${formatCount(applied - total)} of the initial snapshot`
      : '';
  restoring.done(
    `  restored ${formatCount(applied)} changes into a fresh database${extra} ` +
      `(${secondsText(report.rtoSeconds * 1000)})`,
  );
  checkAbort();
  const comparison = await compareDatabases({
    source: dbs.sourceUrl,
    target: dbs.targetUrl,
    tables: [table],
  });
  output.line(`[6/6] verified, restored and compared (${seconds(started)})`);

  const summary: DemoSummary = {
    dir,
    kept: options.keep === true,
    mode,
    store: stores.description,
    written: { ...planned, total, transactions: workload.transactions },
    replicated: { changes: source.storedChanges, ms: replicationMs, catchUpMs },
    stored: { ...search, marker },
    verify: { intact: verify.intact, problems: verify.problems.length },
    restored: {
      rows: report.tables.reduce((sum, t) => sum + (t.rows ?? 0), 0),
      ms: Math.round(report.rtoSeconds * 1000),
    },
    compare: {
      match: comparison.equal,
      tables: comparison.tables.map((t) => ({
        table: t.table,
        sourceRows: t.source?.rows ?? 0,
        targetRows: t.target?.rows ?? 0,
        match: t.equal,
      })),
    },
    recoveryKeyId: keys.recipient.keyId,
  };
  await writeFile(join(dir, 'demo-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Seconds since `started`, for step lines: `1.4 s`. */
function seconds(started: number): string {
  return secondsText(Date.now() - started);
}
