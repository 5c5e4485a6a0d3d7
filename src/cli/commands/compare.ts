import { Command } from 'commander';
import { IntegrityError } from '../../errors.js';
import { compareDatabases } from '../../restore/compare-databases.js';
import { formatCompareReport } from '../../restore/format-report.js';
import { action } from '../action.js';
import { parseTablesFlag } from '../tables-flag.js';

interface CompareFlags {
  source: string;
  target: string;
  tables?: string;
  json?: boolean;
}

/**
 * `crypto-replicator compare --source URL --target URL [--tables a,b] [--json]`: per-table row
 * count and order-independent digest on both sides; exit 0 only when they are equal.
 *
 * @example
 * ```sh
 * crypto-replicator compare --source postgresql://db/prod --target postgresql://db/restored
 * ```
 */
export function compareCommand(): Command {
  return new Command('compare')
    .description('compare per-table row counts and digests of two databases')
    .requiredOption('--source <postgresql-url>', 'the original database')
    .requiredOption('--target <postgresql-url>', 'the restored database')
    .option('--tables <a,b>', 'only these tables (schema.table, comma-separated)')
    .option('--json', 'print the report as JSON')
    .action(action(compare));
}

async function compare(flags: CompareFlags): Promise<void> {
  const tables = flags.tables === undefined ? undefined : parseTablesFlag(flags.tables);
  const report = await compareDatabases({ source: flags.source, target: flags.target, tables });
  process.stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatCompareReport(report),
  );
  if (!report.equal) {
    const differing = report.tables.filter((t) => !t.equal).map((t) => t.table);
    throw new IntegrityError(
      `compare databases: ${differing.length} table(s) differ: ${differing.slice(0, 5).join(', ')}`,
      {
        hint: 'restore again into a fresh database, or look at the rows of the tables listed',
      },
    );
  }
}
