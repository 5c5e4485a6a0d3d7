import { Command, Option } from 'commander';
import { CleanupStack } from '../../demo/cleanup-stack.js';
import { createDemoOutput } from '../../demo/demo-progress.js';
import { demoSucceeded, formatDemoSummary } from '../../demo/demo-summary.js';
import { DEFAULT_DEMO_ROWS, runDemo } from '../../demo/run-demo.js';
import { IntegrityError, UsageError } from '../../errors.js';
import { createLogger } from '../../log/logger.js';
import { action, debugEnabled } from '../action.js';

interface DemoFlags {
  vault?: boolean;
  keep?: boolean;
  dir?: string;
  rows: string;
  mode: 'logical' | 'outbox' | 'notify';
}

/** Exit code after Ctrl-C, as shells report a process ended by SIGINT. */
const INTERRUPTED_EXIT_CODE = 130;

/**
 * `crypto-replicator demo`: the whole promise on throwaway resources in about a minute. Uses an
 * embedded PostgreSQL, or the server in `DATABASE_URL` (two new databases, dropped after).
 *
 * @example
 * ```sh
 * npx crypto-replicator demo --vault --rows 5000
 * ```
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run the whole promise end to end on an embedded PostgreSQL in about a minute')
    .option('--vault', 'store through a local vault server (HTTP on 127.0.0.1, generated tokens)')
    .option('--keep', 'keep the demo folder (throwaway keys, store, state) afterwards')
    .option('--dir <dir>', 'demo folder (default: a new temporary folder)')
    .option(
      '--rows <n>',
      'sample rows to insert; updates and deletes follow',
      String(DEFAULT_DEMO_ROWS),
    )
    .addOption(
      new Option('--mode <mode>', 'capture mode')
        .choices(['logical', 'outbox', 'notify'])
        .default('logical'),
    )
    .addHelpText(
      'after',
      '\nWith DATABASE_URL set, the demo uses that server instead of an embedded one:\n' +
        'it creates two new databases there (needs CREATEDB) and drops them at the end.',
    )
    .action(action((flags: DemoFlags) => demo(flags)));
}

async function demo(flags: DemoFlags): Promise<void> {
  const rows = Number(flags.rows);
  if (!/^\d+$/.test(flags.rows)) {
    throw new UsageError(`invalid --rows "${flags.rows}": expected a whole number`);
  }
  const logger = createLogger({ level: debugEnabled() ? 'debug' : 'error' });
  const output = createDemoOutput(process.stdout);
  const cleanup = new CleanupStack();
  const controller = new AbortController();

  // Ctrl-C (or SIGTERM): stop the replicator, the vault and the database, then exit 130.
  // A second one exits at once; the server is still asked to stop by the exit handler.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(INTERRUPTED_EXIT_CODE);
    interrupted = true;
    // NOTE: connections torn down by the clean-up may report errors nobody waits for any more;
    // after Ctrl-C they are expected, and must not turn the exit code into a crash.
    process.on('uncaughtException', () => {});
    process.on('unhandledRejection', () => {});
    process.stdout.write('\n');
    process.stderr.write(`${signal}: stopping the demo and cleaning up\n`);
    controller.abort();
    void cleanup.run().then((failed) => {
      if (failed.length > 0) process.stderr.write(`clean-up incomplete: ${failed.join(', ')}\n`);
      process.stderr.write('demo interrupted: everything it started is stopped\n');
      process.exit(INTERRUPTED_EXIT_CODE);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const summary = await runDemo({
      dir: flags.dir,
      keep: flags.keep === true,
      rows,
      mode: flags.mode,
      vault: flags.vault === true,
      databaseUrl: process.env.DATABASE_URL || undefined,
      output,
      cleanup,
      signal: controller.signal,
      logger,
    });
    const failed = await cleanup.run();
    for (const line of formatDemoSummary(summary)) output.line(line);
    if (failed.length > 0) output.line(`  clean-up incomplete: ${failed.join(', ')}`);
    if (!demoSucceeded(summary)) {
      throw new IntegrityError('run demo: a check failed, see the summary above');
    }
  } catch (error) {
    // After Ctrl-C the signal handler owns the exit; do not report the interruption twice.
    if (interrupted) return new Promise<never>(() => {});
    await cleanup.run();
    throw error;
  } finally {
    if (!interrupted) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
