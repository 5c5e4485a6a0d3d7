import type { CompareReport } from './compare-databases.js';
import type { RestoreReport } from './restore-report.js';
import type { VerifyReport } from './verify-types.js';

function short(hash: string): string {
  return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
}

function age(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

/**
 * The short text form of a verify report: one paragraph per stream, then problems and
 * warnings, then the verdict.
 *
 * @example
 * ```ts
 * process.stdout.write(formatVerifyReport(await verifyStore({ store })));
 * ```
 */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = [`store ${report.store}`];
  for (const s of report.streams) {
    const range =
      s.firstSequence === undefined
        ? 'no segments'
        : `segments ${s.firstSequence}-${s.lastSequence}`;
    lines.push(`stream ${s.streamId}: ${range} (${s.segments} objects, ${s.bytes} bytes)`);
    if (s.firstCreatedAt !== undefined) {
      lines.push(`  sealed from ${s.firstCreatedAt} to ${s.lastCreatedAt}`);
    }
    lines.push(`  signer ${s.signerKeyIds.join(', ') || '-'}`);
    lines.push(`  recipients ${s.recipientKeyIds.join(', ') || '-'}`);
    if (s.head !== undefined) lines.push(`  head ${s.head.sequence}:${s.head.hash}`);
    if (s.newestCheckpoint !== undefined) {
      const c = s.newestCheckpoint;
      lines.push(
        `  newest checkpoint: segment ${c.sequence} at ${c.createdAt} (${age(c.ageSeconds)} old)`,
      );
    } else {
      lines.push('  no checkpoint');
    }
  }
  for (const problem of report.problems) {
    lines.push(`problem (${problem.kind}) ${problem.object}: ${problem.message}`);
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  const verdict = report.intact
    ? `intact: ${report.segmentsChecked} segment(s) checked${report.authenticityProven ? ', signed by the verify key' : ''}`
    : `NOT INTACT: ${report.problems.length} problem(s)`;
  lines.push(verdict);
  return `${lines.join('\n')}\n`;
}

/**
 * The text summary of a restore: what was restored per stream and table, what was left out.
 *
 * @example
 * ```ts
 * process.stdout.write(formatRestoreReport(report));
 * ```
 */
export function formatRestoreReport(report: RestoreReport): string {
  const lines = [
    `${report.dryRun ? 'plan (dry run, nothing written)' : 'restore'} from ${report.store} (${report.format}) to ${report.target}`,
  ];
  if (report.until !== undefined) lines.push(`until ${report.until}`);
  for (const s of report.streams) {
    const resumed = s.resumedAfterSequence > 0 ? `, resumed after ${s.resumedAfterSequence}` : '';
    lines.push(
      `stream ${s.streamId}: segments through ${s.appliedThroughSequence} of ${s.lastSequenceInStore}${resumed}; ${s.transactionsApplied} transactions, ${s.changesApplied} changes${s.transactionsSkipped > 0 ? `, ${s.transactionsSkipped} already applied skipped` : ''}`,
    );
    if (s.lastPosition !== undefined) {
      lines.push(`  reached position ${s.lastPosition}, committed ${s.lastCommitTime}`);
    }
    if (s.stoppedAtUntil) lines.push('  stopped at --until');
    if (s.head !== undefined) lines.push(`  store head ${s.head.sequence}:${short(s.head.hash)}`);
  }
  for (const t of report.tables) {
    const rows = t.rows === undefined ? '' : `, ${t.rows} rows, digest ${t.digest}`;
    lines.push(
      `table ${t.table}: ${t.snapshotRows} snapshot, ${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted, ${t.truncated} truncates${rows}`,
    );
  }
  for (const left of report.leftOut) {
    const to = left.toSequence === undefined ? '' : ` to ${left.toSequence}`;
    lines.push(
      `left out: stream ${left.streamId} segments ${left.fromSequence}${to}: ${left.object}: ${left.reason}`,
    );
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  const rpo = report.rpoSeconds === undefined ? '' : `, RPO ${age(report.rpoSeconds)}`;
  const state = report.interrupted
    ? 'interrupted (run the same command again to resume)'
    : report.complete
      ? 'complete'
      : 'INCOMPLETE';
  lines.push(`${state}: took ${report.rtoSeconds.toFixed(1)} s${rpo}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The text form of a compare report: one line per table, differences marked.
 *
 * @example
 * ```ts
 * process.stdout.write(formatCompareReport(report));
 * ```
 */
export function formatCompareReport(report: CompareReport): string {
  const lines = [`source ${report.source}`, `target ${report.target}`];
  const side = (d: { rows: number; digest: string } | undefined) =>
    d === undefined ? 'missing' : `${d.rows} rows ${d.digest}`;
  for (const t of report.tables) {
    const mark = t.equal ? 'same' : 'DIFFERS';
    lines.push(`${mark} ${t.table}: source ${side(t.source)}, target ${side(t.target)}`);
  }
  const differing = report.tables.filter((t) => !t.equal).length;
  lines.push(
    report.equal ? `equal: ${report.tables.length} table(s)` : `DIFFERENT: ${differing} table(s)`,
  );
  return `${lines.join('\n')}\n`;
}
