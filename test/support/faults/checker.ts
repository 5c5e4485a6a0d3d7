import pg from 'pg';
import { expect } from 'vitest';
import { parseTableName } from '../../../src/change/change.js';
import { type CompareReport, compareDatabases } from '../../../src/restore/compare-databases.js';
import type { History } from './fault-workload.js';

/** The tables the checker compares between source and restored database. */
export const FAULT_TABLES = [parseTableName('fault_events'), parseTableName('fault_counters')];

/** The checker's figures for one scenario. */
export interface CheckResult {
  /** Rows of committed transactions. */
  committed: number;
  /** Rows of failed (rolled back, or errored before COMMIT) transactions. */
  failed: number;
  /** Rows of transactions whose COMMIT lost its connection. */
  unknown: number;
  /** Committed rows missing from the restored database. */
  lost: number;
  /** Extra copies of a row id in the restored database. */
  duplicated: number;
  /** Restored rows never written, or written by a failed transaction. */
  unexpected: number;
  /** Unknown-outcome rows found in the restored database (allowed). */
  unknownPresent: number;
  /** True when every compared table has the same row count and digest on both sides. */
  digestsMatch: boolean;
  /** Tables whose digest differs. */
  differingTables: string[];
  /** The first few runs of lost row ids, `first-last`, to start an investigation from. */
  lostRanges: string[];
}

/**
 * Check a restored database against the workload's history and the source: lost, duplicated
 * and unexpected rows (by `row_id`), and per-table digests ({@link compareDatabases}). The
 * history goes into a temporary table of the checker's own session, so the comparison is done
 * by PostgreSQL and memory stays small even for a million rows.
 *
 * @example
 * ```ts
 * const result = await checkRestored({ history, sourceUrl, restoredUrl });
 * expect([result.lost, result.duplicated, result.unexpected]).toEqual([0, 0, 0]);
 * ```
 */
export async function checkRestored(options: {
  history: History;
  sourceUrl: string;
  restoredUrl: string;
}): Promise<CheckResult> {
  const { history } = options;
  const client = new pg.Client({ connectionString: options.restoredUrl });
  await client.connect();
  let figures: Omit<CheckResult, 'digestsMatch' | 'differingTables' | 'lostRanges'>;
  let lostRanges: string[] = [];
  try {
    // The history as ranges, expanded by the server.
    await client.query(
      'CREATE TEMP TABLE checker_expected (row_id bigint PRIMARY KEY, outcome text NOT NULL)',
    );
    const chunk = 5000;
    for (let i = 0; i < history.transactions.length; i += chunk) {
      const part = history.transactions.slice(i, i + chunk);
      await client.query(
        `INSERT INTO checker_expected
           SELECT g, t.outcome FROM unnest($1::bigint[], $2::bigint[], $3::text[])
             AS t(first_id, last_id, outcome), generate_series(t.first_id, t.last_id) g`,
        [part.map((t) => t.firstRowId), part.map((t) => t.lastRowId), part.map((t) => t.outcome)],
      );
    }

    // Count what the restored table holds against what was written.
    const { rows } = await client.query<Record<string, string>>(`
      WITH restored AS (SELECT row_id, count(*) AS copies FROM public.fault_events GROUP BY row_id)
      SELECT
        (SELECT count(*) FROM checker_expected WHERE outcome = 'committed') AS committed,
        (SELECT count(*) FROM checker_expected WHERE outcome = 'failed') AS failed,
        (SELECT count(*) FROM checker_expected WHERE outcome = 'unknown') AS unknown,
        (SELECT count(*) FROM checker_expected e WHERE outcome = 'committed'
           AND NOT EXISTS (SELECT 1 FROM restored r WHERE r.row_id = e.row_id)) AS lost,
        (SELECT coalesce(sum(copies - 1), 0) FROM restored) AS duplicated,
        (SELECT coalesce(sum(copies), 0) FROM restored r WHERE NOT EXISTS
           (SELECT 1 FROM checker_expected e WHERE e.row_id = r.row_id
              AND e.outcome IN ('committed', 'unknown'))) AS unexpected,
        (SELECT count(*) FROM restored r JOIN checker_expected e USING (row_id)
           WHERE e.outcome = 'unknown') AS unknown_present`);
    const row = rows[0]!;
    const ranges = await client.query<{ first: string; last: string }>(`
      WITH lost AS (SELECT row_id FROM checker_expected e WHERE outcome = 'committed'
          AND NOT EXISTS (SELECT 1 FROM public.fault_events r WHERE r.row_id = e.row_id)),
        runs AS (SELECT row_id, row_id - row_number() OVER (ORDER BY row_id) AS run FROM lost)
      SELECT min(row_id)::text AS first, max(row_id)::text AS last FROM runs
        GROUP BY run ORDER BY min(row_id) LIMIT 8`);
    lostRanges = ranges.rows.map((r) => `${r.first}-${r.last}`);
    figures = {
      committed: Number(row.committed),
      failed: Number(row.failed),
      unknown: Number(row.unknown),
      lost: Number(row.lost),
      duplicated: Number(row.duplicated),
      unexpected: Number(row.unexpected),
      unknownPresent: Number(row.unknown_present),
    };
  } finally {
    await client.end();
  }

  // Per-table digests against the source, once the checker's session (and its table) is gone.
  const report: CompareReport = await compareDatabases({
    source: options.sourceUrl,
    target: options.restoredUrl,
    tables: FAULT_TABLES,
  });
  return {
    ...figures,
    lostRanges,
    digestsMatch: report.equal,
    differingTables: report.tables.filter((t) => !t.equal).map((t) => t.table),
  };
}

/**
 * One line of figures for the test log and docs/RELIABILITY.md.
 *
 * @example
 * ```ts
 * console.log(formatCheck('kill ×3 (logical)', result));
 * ```
 */
export function formatCheck(scenario: string, result: CheckResult): string {
  return (
    `[faults] ${scenario}: committed ${result.committed} rows, failed ${result.failed}, ` +
    `unknown ${result.unknown} (${result.unknownPresent} present); lost ${result.lost}, ` +
    `duplicated ${result.duplicated}, unexpected ${result.unexpected}; digests ` +
    `${result.digestsMatch ? 'match' : `differ: ${result.differingTables.join(', ')}`}` +
    (result.lostRanges.length === 0 ? '' : `; lost row ids ${result.lostRanges.join(' ')}`)
  );
}

/**
 * Assert the checker's pass: nothing lost, duplicated or unexpected; with `digests`, also equal
 * per-table digests (a baseline that tolerates nothing else passes `digests: false`).
 *
 * @example
 * ```ts
 * expectHeld(await checkRestored({ history, sourceUrl, restoredUrl }));
 * ```
 */
export function expectHeld(result: CheckResult, options: { digests?: boolean } = {}): void {
  expect({
    lost: result.lost,
    duplicated: result.duplicated,
    unexpected: result.unexpected,
  }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 });
  if (options.digests !== false) expect(result.differingTables).toEqual([]);
}
