import { Command } from 'commander';
import type { CaptureMode } from '../../capture/capture-source.js';
import { listAllTables } from '../../capture/catalog.js';
import {
  captureSql,
  DEFAULT_CHANNEL,
  DEFAULT_PUBLICATION,
  DEFAULT_SLOT,
  installCapture,
  uninstallCapture,
} from '../../capture/index.js';
import { connectText } from '../../capture/text-client.js';
import { qualifiedName, type TableName } from '../../change/change.js';
import { UsageError } from '../../errors.js';
import { action } from '../action.js';
import { parseTablesFlag } from '../tables-flag.js';

interface InstallFlags {
  mode?: string;
  tables?: string;
  allTables?: boolean;
  databaseUrl?: string;
  channel?: string;
  slot?: string;
  publication?: string;
  printSql?: boolean;
}

const MODES: CaptureMode[] = ['notify', 'outbox', 'logical'];

/**
 * `crypto-replicator install --mode M (--tables a,b | --all-tables) [--print-sql]`: create the
 * triggers, outbox, or publication a capture mode needs; idempotent.
 *
 * @example
 * ```sh
 * crypto-replicator install --mode outbox --tables 'public.orders,"Odd Schema"."Odd Table"'
 * ```
 */
export function installCommand(): Command {
  return withFlags(new Command('install'))
    .description('create the triggers, outbox or publication a capture mode needs (idempotent)')
    .action(action((flags: InstallFlags) => run(flags, false)));
}

/**
 * `crypto-replicator uninstall --mode M [--tables a,b | --all-tables] [--print-sql]`: remove
 * what install created, from some tables or (without --tables) entirely.
 *
 * @example
 * ```sh
 * crypto-replicator uninstall --mode logical --all-tables
 * ```
 */
export function uninstallCommand(): Command {
  return withFlags(new Command('uninstall'))
    .description('remove what install created (without --tables: everything, pending changes too)')
    .action(action((flags: InstallFlags) => run(flags, true)));
}

function withFlags(command: Command): Command {
  return command
    .option('--mode <mode>', 'capture mode: notify, outbox or logical')
    .option('--tables <list>', 'comma-separated tables, schema.table; quote odd names: "My Table"')
    .option('--all-tables', 'every table outside the system schemas')
    .option('--database-url <url>', 'PostgreSQL connection URL (default: $DATABASE_URL)')
    .option(
      '--channel <name>',
      `notify: LISTEN channel (default: $LISTEN_CHANNEL or ${DEFAULT_CHANNEL})`,
    )
    .option('--slot <name>', `logical: replication slot (default: ${DEFAULT_SLOT})`)
    .option('--publication <name>', `logical: publication (default: ${DEFAULT_PUBLICATION})`)
    .option('--print-sql', 'print the SQL instead of running it');
}

async function run(flags: InstallFlags, uninstall: boolean): Promise<void> {
  // Guard: a known mode, one way of naming tables, and a database unless only printing.
  const verb = uninstall ? 'uninstall' : 'install';
  const mode = flags.mode as CaptureMode;
  if (!MODES.includes(mode)) {
    throw new UsageError(
      `invalid --mode "${flags.mode ?? ''}": expected notify, outbox or logical`,
      {
        hint: `run "crypto-replicator ${verb} --mode outbox --tables public.orders"`,
      },
    );
  }
  if (flags.tables !== undefined && flags.allTables) {
    throw new UsageError(`${verb} capture: --tables and --all-tables exclude each other`);
  }
  if (!uninstall && flags.tables === undefined && !flags.allTables) {
    throw new UsageError('install capture: no tables given', {
      hint: 'pass --tables a,b or --all-tables',
    });
  }
  const tables = flags.tables === undefined ? undefined : parseTablesFlag(flags.tables);
  const databaseUrl = flags.databaseUrl ?? process.env.DATABASE_URL;
  const names = {
    channel: flags.channel ?? process.env.LISTEN_CHANNEL ?? DEFAULT_CHANNEL,
    slotName: flags.slot,
    publicationName: flags.publication,
  };
  const needsDatabase = !flags.printSql || (flags.allTables === true && !uninstall);
  if (needsDatabase && (databaseUrl === undefined || databaseUrl === '')) {
    throw new UsageError(`${verb} capture: no database given`, {
      hint: flags.printSql
        ? '--print-sql with --all-tables reads the table list: pass --database-url'
        : 'pass --database-url URL or set DATABASE_URL',
    });
  }

  // --print-sql: the script, nothing changed.
  if (flags.printSql) {
    const listed = tables ?? (uninstall ? [] : await listTables(databaseUrl!));
    process.stdout.write(captureSql({ mode, tables: listed, uninstall, ...names }));
    return;
  }

  // Run it, then say what was done and what restore can do for tables without a key.
  const options = { mode, databaseUrl: databaseUrl!, tables, allTables: flags.allTables, ...names };
  if (uninstall) {
    await uninstallCapture(options);
    const what = tables === undefined ? 'everything' : `${tables.length} table(s)`;
    process.stdout.write(`uninstalled ${mode} capture from ${what}\n`);
    return;
  }
  const report = await installCapture(options);
  process.stdout.write(
    `installed ${mode} capture on ${report.tables.length} table(s): ${report.tables.map(qualifiedName).join(', ')}\n`,
  );
  for (const table of report.tablesWithoutPrimaryKey) {
    process.stderr.write(
      `warning: table ${qualifiedName(table)} has no primary key: restore re-creates its rows, but applies UPDATE and DELETE by matching the whole old row, and identical rows cannot be told apart${mode === 'logical' ? ' (REPLICA IDENTITY FULL was set so the source accepts UPDATE and DELETE)' : ''}\n`,
    );
  }
  if (mode === 'logical') {
    const slot = names.slotName ?? DEFAULT_SLOT;
    process.stdout.write(
      report.slotCreated === true
        ? `created replication slot "${slot}": the server keeps the WAL of every change from now on, until "crypto-replicator run" follows it (the first run takes the snapshot of existing rows); uninstall if you do not start it\n`
        : `replication slot "${slot}" exists already: kept as it is\n`,
    );
  }
}

async function listTables(databaseUrl: string): Promise<TableName[]> {
  const client = await connectText(databaseUrl, 'crypto-replicator install');
  try {
    return await listAllTables(client);
  } finally {
    await client.end().catch(() => {});
  }
}
