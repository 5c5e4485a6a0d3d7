import { qualifiedName } from '../change/change.js';
import type { StreamPlan } from './plan-stream.js';
import type { RestoreOptions } from './restore.js';
import type { RestorePoint } from './restore-point.js';
import type { RestoreReport, StreamRestore } from './restore-report.js';
import type { RestoreTarget } from './restore-target.js';

/**
 * A fresh drill report for a v2 restore, before any stream is read.
 *
 * @example
 * ```ts
 * const report = startReport(options, until);
 * ```
 */
export function startReport(
  options: RestoreOptions,
  until: RestorePoint | undefined,
): RestoreReport {
  return {
    report: 'crypto-replicator restore',
    reportVersion: 1,
    format: 'v2',
    startedAt: new Date().toISOString(),
    finishedAt: '',
    rtoSeconds: 0,
    store: options.store.url,
    target: '',
    dryRun: options.dryRun ?? false,
    until: until?.text,
    tablesSelected: options.tables?.map(qualifiedName),
    keys: {
      identityKeyIds: [],
      verifyKeyId: options.verifyKey?.keyId,
      authenticityProven: options.verifyKey !== undefined,
    },
    streams: [],
    tables: [],
    complete: false,
    interrupted: false,
    leftOut: [],
    warnings:
      options.verifyKey === undefined
        ? [
            'authenticity not proven: no verify key given, segments were checked against the signer key they record',
          ]
        : [],
  };
}

/**
 * The per-stream part of the report, before the stream is read.
 *
 * @example
 * ```ts
 * report.streams.push(emptyStreamResult(plan));
 * ```
 */
export function emptyStreamResult(plan: StreamPlan): StreamRestore {
  return {
    streamId: plan.streamId,
    resumedAfterSequence: 0,
    appliedThroughSequence: 0,
    lastSequenceInStore: plan.lastSequence,
    segmentsRead: 0,
    transactionsApplied: 0,
    transactionsSkipped: 0,
    changesApplied: 0,
    stoppedAtUntil: false,
    head: plan.head ? { sequence: plan.head.sequence, hash: plan.head.hash } : undefined,
    newestCheckpoint: plan.checkpoint
      ? { sequence: plan.checkpoint.sequence, createdAt: plan.checkpoint.createdAt.toISOString() }
      : undefined,
    signerKeyIds: [],
    recipientKeyIds: [],
  };
}

/**
 * Fill in the end of a report: times, RTO, RPO, per-table counts when no digest pass added
 * them, and whether the restore is complete.
 *
 * @example
 * ```ts
 * finishReport(report, target, plans);
 * ```
 */
export function finishReport(
  report: RestoreReport,
  target: RestoreTarget,
  plans: StreamPlan[],
): void {
  const finished = new Date();
  report.finishedAt = finished.toISOString();
  const started = Date.parse(report.startedAt);
  report.rtoSeconds = (finished.getTime() - started) / 1000;
  if (report.tables.length === 0) {
    report.tables = [...target.counts()].map(([table, counts]) => ({ table, ...counts }));
  }

  // RPO: the newest commit read when every stream was read to its end, else the newest seal.
  const readToEnd = report.streams.every(
    (s) => s.appliedThroughSequence === s.lastSequenceInStore && !s.stoppedAtUntil,
  );
  const commitTimes = report.streams.map((s) => s.lastCommitTime).filter((t) => t !== undefined);
  const sealTimes = plans
    .map((p) => p.head?.createdAt.toISOString())
    .filter((t) => t !== undefined);
  const candidates = readToEnd && commitTimes.length > 0 ? commitTimes : sealTimes;
  const newest = candidates.map((t) => Date.parse(t)).sort((a, b) => b - a)[0];
  if (newest !== undefined) {
    report.lastChangeInStoreAt = new Date(newest).toISOString();
    report.rpoSeconds = Math.max(0, (started - newest) / 1000);
  }
  report.complete =
    report.leftOut.length === 0 && !report.interrupted && report.error === undefined;
}
