import type { TableName } from '../change/change.js';
import { qualifiedName } from '../change/change.js';
import { AuthenticationError, IntegrityError, UsageError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';
import type { ObjectStore } from '../store/store.js';
import { DatabaseTarget } from './database-target.js';
import { checkExpectedHeads } from './expected-heads.js';
import { JsonlTarget } from './jsonl-target.js';
import { hasObjects, listStreams } from './list-streams.js';
import { planStream, type StreamPlan } from './plan-stream.js';
import { emptyStreamResult, finishReport, startReport } from './report-builder.js';
import { parseRestorePoint, type RestorePoint } from './restore-point.js';
import type { LeftOut, RestoreReport, TableRestore } from './restore-report.js';
import { type RestoreProgressEvent, restoreStream } from './restore-stream.js';
import { DryRunTarget, type RestoreTarget } from './restore-target.js';
import { restoreV1 } from './restore-v1.js';
import { tableDigest } from './table-digest.js';
import type { ExpectedHead } from './verify-types.js';

export interface RestoreOptions {
  store: ObjectStore;
  /** Private recovery keys; each segment is opened with the one among its recipients. */
  identities: Identity[];
  /** The replicator's public signing key. Without it authenticity is not proven. */
  verifyKey?: VerifyKey;
  /** Target database URL. */
  to?: string;
  /** Write JSON lines into this folder instead of a database. */
  toJsonl?: string;
  /** Read, verify and decrypt everything, count what would be applied, write nothing. */
  dryRun?: boolean;
  /** Point-in-time restore: `--until` text or a parsed point. */
  until?: string | RestorePoint;
  /** Only these tables. */
  tables?: TableName[];
  keepSchema?: boolean;
  allowNonempty?: boolean;
  /** Restore up to the last intact point instead of refusing; the report lists what is left out. */
  upToLastIntact?: boolean;
  /**
   * Heads recorded earlier (a drill report, `--expect-head`): the store must still hold each,
   * checked before anything is applied, else the restore refuses (rollback detection).
   */
  expectHeads?: ExpectedHead[];
  /** Stop at the next segment boundary (progress committed; run again to resume). */
  signal?: AbortSignal;
  onProgress?: (event: RestoreProgressEvent) => void;
  prefetchSegments?: number;
  /**
   * Open segments (verify, decrypt, decode) in a worker thread while this thread applies the
   * ones before. Default: false, on this thread, where a segment's transactions are decoded one
   * at a time as they are applied. NOTE: the worker must decode a whole segment and pack it to
   * hand it over; measured on two cores (docs/BENCHMARKS.md) that single thread needed about
   * 2.5 s of CPU per million changes, twice what the applying thread needs for all its work, so
   * it is the slower path however many cores there are. See docs/RESTORE.md.
   */
  openInWorker?: boolean;
  /** Changes per database transaction (committed at segment boundaries). */
  groupChanges?: number;
  /** Digest each restored table for the report (a full scan of each); default true. */
  digests?: boolean;
  logger?: Logger;
}

/**
 * Restore a store into a database (or JSON lines, or a dry run): v2 streams verified while
 * read, in stream order, resumable; v1 envelope folders applied in timestamp order. Returns the
 * drill report. A problem in the store throws after committing what precedes it (unless
 * `upToLastIntact`); the error carries the report ({@link restoreReportOf}).
 *
 * @example
 * ```ts
 * const report = await restore({ store, identities: [identity], verifyKey, to: url });
 * console.log(report.tables);
 * ```
 */
export async function restore(options: RestoreOptions): Promise<RestoreReport> {
  const outputs = [options.to, options.toJsonl].filter((o) => o !== undefined).length;
  if (outputs > 1) {
    throw new UsageError('restore: --to and --to-jsonl exclude each other', {
      hint: 'restore into a database or into JSON lines, one at a time',
    });
  }
  if (outputs === 0 && !options.dryRun) {
    throw new UsageError('restore: no target given', {
      hint: 'pass --to postgresql://…, --to-jsonl DIR, or --dry-run',
    });
  }
  if (options.identities.length === 0) {
    throw new UsageError('restore: no identity given', {
      hint: 'pass --identity with the private recovery key',
    });
  }
  const logger = options.logger ?? silentLogger;
  const until =
    typeof options.until === 'string' ? parseRestorePoint(options.until) : options.until;

  // A store without v2 streams may hold the seed's v1 envelopes.
  const streamIds = await listStreams(options.store);
  if (streamIds.length === 0 && (options.expectHeads ?? []).length > 0) {
    await refuseRollback(options, []);
  }
  if (streamIds.length === 0) {
    if (await hasObjects(options.store, 'envelopes/')) {
      return restoreV1({ ...options, until });
    }
    throw new UsageError(`restore from ${options.store.url}: the store holds no stream`, {
      hint: 'check the --store location (and its prefix)',
    });
  }

  // Read every stream's listing first: gaps and a removed tail refuse before anything applies.
  const plans: StreamPlan[] = [];
  for (const id of streamIds) plans.push(await planStream(options.store, id, options.verifyKey));
  plans.sort((a, b) => (a.firstCreatedAt?.getTime() ?? 0) - (b.firstCreatedAt?.getTime() ?? 0));
  // A verify key that signed none of it is a key problem, not a damaged store.
  const keyProblem = plans.find((plan) => plan.firstHeaderError instanceof AuthenticationError);
  if (keyProblem?.firstHeaderError !== undefined && options.verifyKey !== undefined) {
    throw keyProblem.firstHeaderError;
  }
  // A store rolled back below a head recorded earlier refuses even with --up-to-last-intact.
  await refuseRollback(options, plans);
  const problem = plans.flatMap((plan) => plan.problems)[0];
  if (problem !== undefined && !options.upToLastIntact) {
    throw new IntegrityError(
      `restore from ${options.store.url}: ${problem.object}: ${problem.message}`,
      {
        hint: 'nothing was applied; run "crypto-replicator verify", or pass --up-to-last-intact to restore what precedes the problem',
      },
    );
  }

  const report = startReport(options, until);
  const tables = options.tables ? new Set(options.tables.map(qualifiedName)) : undefined;
  const target = await openTarget(options, tables, report.warnings);
  report.target = target.description;
  try {
    await restoreStreams(options, { plans, target, until, report });
    if (target instanceof DatabaseTarget)
      await digestTables(target, report, options.digests ?? true);
  } catch (error) {
    finishReport(report, target, plans);
    throw attachReport(error, report);
  } finally {
    await target.close();
  }
  finishReport(report, target, plans);
  logger.info(
    { streams: report.streams.length, seconds: report.rtoSeconds, complete: report.complete },
    'restore finished',
  );
  return report;
}

/** Throw when the store no longer holds a head recorded earlier; nothing has been applied. */
async function refuseRollback(options: RestoreOptions, plans: StreamPlan[]): Promise<void> {
  const heads = options.expectHeads ?? [];
  if (heads.length === 0) return;
  const found = plans.map((plan) => ({
    streamId: plan.streamId,
    lastSequence: plan.lastSequence,
    head: plan.head,
  }));
  const problems = await checkExpectedHeads(options.store, found, heads, options.verifyKey);
  const first = problems[0];
  if (first === undefined) return;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new IntegrityError(`restore from ${options.store.url}: ${first.message}${more}`, {
    hint:
      'nothing was applied; the store is older than a head recorded earlier: find out who ' +
      'removed segments, or restore from a copy that holds the recorded head',
  });
}

async function restoreStreams(
  options: RestoreOptions,
  run: { plans: StreamPlan[]; target: RestoreTarget; until?: RestorePoint; report: RestoreReport },
): Promise<void> {
  const { report } = run;
  const usedIdentities = new Set<string>();
  for (const plan of run.plans) {
    const result = emptyStreamResult(plan);
    report.streams.push(result);

    // With --up-to-last-intact, listing problems shorten the stream instead of refusing.
    const lastSequence = options.upToLastIntact ? plan.intactThrough : plan.lastSequence;
    for (const problem of plan.problems) {
      report.leftOut.push({
        streamId: plan.streamId,
        fromSequence: problem.fromSequence,
        toSequence: plan.missingTail?.to ?? plan.lastSequence,
        object: problem.object,
        reason: problem.message,
      });
    }

    const outcome = await restoreStream({
      ...options,
      openInWorker: options.openInWorker ?? false,
      plan,
      target: run.target,
      until: run.until,
      lastSequence,
      result,
      usedIdentities,
    });
    report.keys.identityKeyIds = [...usedIdentities].sort();
    if (outcome.kind === 'interrupted') {
      report.interrupted = true;
      return;
    }
    if (outcome.kind !== 'problem') continue;

    // A problem met while reading: what precedes it is committed; the rest is left out.
    const left: LeftOut = {
      streamId: plan.streamId,
      fromSequence: outcome.sequence,
      toSequence: plan.missingTail?.to ?? plan.lastSequence,
      object: objectOf(outcome.error) ?? `streams/${plan.streamId}/`,
      reason: outcome.error.message,
    };
    report.leftOut.push(left);
    if (!options.upToLastIntact) {
      report.error = outcome.error.message;
      throw outcome.error;
    }
  }
}

function objectOf(error: Error): string | undefined {
  return /(streams\/[0-9a-f]{32}\/[a-z]+\/[0-9]{20}\.[a-z]+)/.exec(error.message)?.[1];
}

async function openTarget(
  options: RestoreOptions,
  tables: Set<string> | undefined,
  warnings: string[],
): Promise<RestoreTarget> {
  const warn = (message: string) => warnings.push(message);
  if (options.dryRun) return new DryRunTarget(tables);
  if (options.toJsonl !== undefined) return new JsonlTarget({ dir: options.toJsonl, tables });
  return DatabaseTarget.open({
    url: options.to!,
    keepSchema: options.keepSchema,
    allowNonempty: options.allowNonempty,
    tables,
    warn,
  });
}

async function digestTables(
  target: DatabaseTarget,
  report: RestoreReport,
  digests: boolean,
): Promise<void> {
  for (const [name, counts] of target.counts()) {
    const [schema, table] = splitQualified(name);
    const entry: TableRestore = { table: name, ...counts };
    report.tables.push(entry);
    if (!digests) continue;
    const exists = await target.client.query<{ oid: string | null }>(
      'SELECT to_regclass($1)::text AS oid',
      [name],
    );
    if (exists.rows[0]?.oid !== null) {
      const digest = await tableDigest(target.client, { schema, name: table });
      entry.rows = digest.rows;
      entry.digest = digest.digest;
    }
  }
}

/** Undo `qualifiedName`: `"a"."b"` → ['a', 'b']. */
function splitQualified(name: string): [string, string] {
  const match = /^"((?:[^"]|"")*)"\."((?:[^"]|"")*)"$/.exec(name);
  if (match === null) throw new TypeError(`not a qualified name: ${name}`);
  return [match[1]!.replaceAll('""', '"'), match[2]!.replaceAll('""', '"')];
}

function attachReport(error: unknown, report: RestoreReport): unknown {
  if (error instanceof Error) {
    report.error ??= error.message;
    Object.assign(error, { restoreReport: report });
  }
  return error;
}

/**
 * The report of a restore that stopped with an error (what was committed before it).
 *
 * @example
 * ```ts
 * try { await restore(options); } catch (error) { save(restoreReportOf(error)); }
 * ```
 */
export function restoreReportOf(error: unknown): RestoreReport | undefined {
  return (error as { restoreReport?: RestoreReport } | undefined)?.restoreReport;
}
