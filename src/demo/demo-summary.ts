import { formatCount } from './demo-progress.js';

/** Everything the demo measured and checked; also written to DIR/demo-summary.json. */
export interface DemoSummary {
  dir: string;
  kept: boolean;
  mode: string;
  /** Printable store location. */
  store: string;
  written: {
    inserts: number;
    updates: number;
    deletes: number;
    total: number;
    transactions: number;
  };
  /** Changes stored and acknowledged, and the time from the first write until the last stored. */
  replicated: {
    changes: number;
    ms: number;
    /** From the last write's commit until the replicator had stored it. */
    catchUpMs: number;
  };
  stored: {
    objects: number;
    segments: number;
    checkpoints: number;
    bytes: number;
    /** The value searched for, present in every sample row. */
    marker: string;
    /** Objects in which it was found: must be none. */
    matches: string[];
  };
  verify: { intact: boolean; problems: number };
  restored: { rows: number; ms: number };
  compare: {
    match: boolean;
    tables: Array<{ table: string; sourceRows: number; targetRows: number; match: boolean }>;
  };
  recoveryKeyId: string;
}

/**
 * True when every promise held: nothing readable in the store, intact, restored, equal.
 *
 * @example
 * ```ts
 * process.exitCode = demoSucceeded(summary) ? 0 : 4;
 * ```
 */
export function demoSucceeded(summary: DemoSummary): boolean {
  return summary.stored.matches.length === 0 && summary.verify.intact && summary.compare.match;
}

/**
 * The closing summary, as lines for a terminal or a CI log.
 *
 * @example
 * ```ts
 * for (const line of formatDemoSummary(summary)) console.log(line);
 * ```
 */
export function formatDemoSummary(summary: DemoSummary): string[] {
  const { written, replicated, stored, restored } = summary;
  const rate = replicated.ms > 0 ? (replicated.changes * 1000) / replicated.ms : 0;
  const lines = ['', 'Summary'];

  // Replication: how much and how fast, from the first write until the last change stored.
  lines.push(
    `  replicated  ${formatCount(replicated.changes)} changes (${formatCount(written.inserts)} ` +
      `inserts, ${formatCount(written.updates)} updates, ${formatCount(written.deletes)} deletes ` +
      `in ${formatCount(written.transactions)} transactions) in ${secondsText(replicated.ms)}: ` +
      `${formatCount(rate)} changes/s, ${summary.mode} capture`,
  );
  lines.push(
    `  kept up     the last change was stored ${secondsText(replicated.catchUpMs)} after it ` +
      'was committed',
  );

  // The store: what it holds, and that it cannot read it.
  lines.push(
    `  stored      ${formatCount(stored.segments)} sealed segments and ` +
      `${formatCount(stored.checkpoints)} checkpoints, ${bytesText(stored.bytes)}, ` +
      `in ${summary.store}`,
  );
  lines.push(
    stored.matches.length === 0
      ? `  unreadable  searched all ${bytesText(stored.bytes)} for "${stored.marker}" ` +
          '(in every sample row, also as UTF-16 and base64): found nothing'
      : `  READABLE    "${stored.marker}" found in ${stored.matches.length} objects, ` +
          `e.g. ${stored.matches[0]}`,
  );
  lines.push(
    summary.verify.intact
      ? '  verified    intact: signatures, hash chain and checkpoints, with public keys only'
      : `  verify      FAILED with ${summary.verify.problems} problems`,
  );

  // Restore and comparison: the proof that the copy is the database.
  lines.push(
    `  restored    ${formatCount(restored.rows)} rows into a fresh database in ` +
      `${secondsText(restored.ms)}, with the throwaway recovery key ` +
      shortId(summary.recoveryKeyId),
  );
  for (const table of summary.compare.tables) {
    lines.push(
      table.match
        ? `  compared    ${table.table}: ${formatCount(table.sourceRows)} rows on both sides, ` +
            'digests match'
        : `  compared    ${table.table}: source ${formatCount(table.sourceRows)} rows, restored ` +
            `${formatCount(table.targetRows)} rows, digests DIFFER`,
    );
  }
  lines.push(
    summary.kept
      ? `  kept        ${summary.dir} (throwaway keys, store, state, demo-summary.json)`
      : '  cleaned up  servers stopped, demo folder deleted (--keep keeps it)',
  );
  return lines;
}

/**
 * Milliseconds as seconds with one decimal.
 *
 * @example
 * ```ts
 * secondsText(3240); // => '3.2 s'
 * ```
 */
export function secondsText(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Bytes in binary units.
 *
 * @example
 * ```ts
 * bytesText(1_258_291); // => '1.2 MiB'
 * ```
 */
export function bytesText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The first 12 characters of a key id, enough to tell keys apart on screen.
 *
 * @example
 * ```ts
 * shortId('78416bf387b4c0ffee…'); // => '78416bf387b4…'
 * ```
 */
export function shortId(keyId: string): string {
  return `${keyId.slice(0, 12)}…`;
}
