import { readFile, rename, writeFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { IntegrityError, UsageError } from '../../errors.js';
import {
  type Identity,
  loadIdentity,
  loadVerifyKey,
  readPassphraseFile,
} from '../../keys/index.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { headsFromReport, parseExpectedHead } from '../../restore/expected-heads.js';
import { formatRestoreReport } from '../../restore/format-report.js';
import { restore, restoreReportOf } from '../../restore/restore.js';
import type { RestoreReport } from '../../restore/restore-report.js';
import type { RestoreProgressEvent } from '../../restore/restore-stream.js';
import type { ExpectedHead } from '../../restore/verify-types.js';
import { openStore } from '../../store/open-store.js';
import type { ObjectStore } from '../../store/store.js';
import { action, debugEnabled } from '../action.js';
import { parseTablesFlag } from '../tables-flag.js';

interface RestoreFlags extends StoreFlags, ExpectHeadFlags {
  identity: string[];
  passphraseFile?: string;
  verifyKey: string;
  to?: string;
  until?: string;
  tables?: string;
  dryRun?: boolean;
  toJsonl?: string;
  report?: string;
  keepSchema?: boolean;
  allowNonempty?: boolean;
  upToLastIntact?: boolean;
}

/**
 * `crypto-replicator restore --store URL --identity recovery.pem --verify-key signing.pub
 * --to postgresql://…`: verify while reading and rebuild a database from the store.
 *
 * @example
 * ```sh
 * crypto-replicator restore --store ./twin --identity recovery.pem \
 *   --verify-key signing.pub --to postgresql://localhost/restored --report drill.json
 * ```
 */
export function restoreCommand(): Command {
  const command = new Command('restore').description(
    'verify a store while reading it and rebuild a database (or JSON lines) from it',
  );
  addStoreFlags(command)
    .requiredOption(
      '--identity <recovery.pem>',
      'private recovery key; repeat for several (rotation, escrow)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--passphrase-file <file>', 'passphrase of encrypted --identity keys')
    .requiredOption('--verify-key <signing.pub>', 'the replicator public signing key')
    .option('--to <postgresql-url>', 'target database')
    .option('--until <time|lsn>', 'stop after this commit time (ISO 8601) or position (LSN)')
    .option('--tables <a,b>', 'restore only these tables (schema.table, comma-separated)')
    .option('--dry-run', 'read, verify and decrypt everything, print the plan, write nothing')
    .option('--to-jsonl <dir>', 'write the decrypted changes as JSON lines instead')
    .option('--report <file>', 'write the drill report (JSON) to this file')
    .option('--keep-schema', 'use the existing tables; never create or alter them')
    .option('--allow-nonempty', 'restore into tables that already hold rows')
    .option('--up-to-last-intact', 'restore up to a problem in the store instead of refusing');
  return addExpectHeadFlags(command).action(action(restoreAction));
}

async function restoreAction(flags: RestoreFlags): Promise<void> {
  // Keys and inputs first: a wrong key, passphrase or flag stops before the store is read.
  const logger = createLogger({ level: debugEnabled() ? 'debug' : 'warn' });
  const passphrase =
    flags.passphraseFile === undefined ? undefined : await readPassphraseFile(flags.passphraseFile);
  const identities: Identity[] = [];
  for (const path of flags.identity) identities.push(await loadIdentity(path, { passphrase }));
  const verifyKey = await loadVerifyKey(flags.verifyKey);
  const tables = flags.tables === undefined ? undefined : parseTablesFlag(flags.tables);
  const expectHeads = await expectedHeadsFromFlags(flags);

  // Ctrl-C stops at the next segment boundary with progress committed; a second one exits.
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('stopping at the next segment boundary (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const bar = progressBar();

  const store = await openStoreFromFlags(flags, logger);
  let report: RestoreReport | undefined;
  try {
    report = await restore({
      store,
      identities,
      verifyKey,
      to: flags.to,
      toJsonl: flags.toJsonl,
      dryRun: flags.dryRun,
      until: flags.until,
      tables,
      keepSchema: flags.keepSchema,
      allowNonempty: flags.allowNonempty,
      upToLastIntact: flags.upToLastIntact,
      expectHeads,
      signal: controller.signal,
      onProgress: bar?.update,
      logger,
    });
  } catch (error) {
    bar?.stop();
    const partial = restoreReportOf(error);
    if (partial !== undefined) {
      process.stderr.write(stoppedNote(partial));
      if (flags.report !== undefined) await writeReport(flags.report, partial);
    }
    throw error;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
  }

  // The summary, the drill report, and an exit code that says whether it is all there.
  process.stdout.write(formatRestoreReport(report));
  if (flags.report !== undefined) await writeReport(flags.report, report);
  if (report.interrupted) {
    process.exitCode = 130;
    return;
  }
  if (!report.complete) {
    const first = report.leftOut[0];
    throw new IntegrityError(
      `restore from ${store.url}: restored up to the last intact point; left out from ${first?.object ?? 'the store'}`,
      { hint: 'the report lists what was left out; run "crypto-replicator verify" on the store' },
    );
  }
}

function stoppedNote(report: RestoreReport): string {
  const lines = report.streams.map(
    (s) =>
      `restore stopped: stream ${s.streamId} restored and committed through segment ${s.appliedThroughSequence} of ${s.lastSequenceInStore}; nothing after it was applied\n`,
  );
  return lines.join('');
}

async function writeReport(path: string, report: RestoreReport): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, `${JSON.stringify(report, null, 2)}\n`);
    await rename(temporary, path);
  } catch (error) {
    throw new UsageError(`write report "${path}": ${(error as Error).message}`, {
      hint: 'pass a --report path in a writable folder',
    });
  }
}

/** A progress bar on a terminal only (stderr a TTY): changes/s, segments, time left. */
function progressBar():
  | { update: (event: RestoreProgressEvent) => void; stop: () => void }
  | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'restore |{bar}| segment {value}/{total} | {rate} changes/s | ETA {eta_formatted}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let running = false;
  return {
    update(event) {
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const rate = Math.round(event.changesApplied / seconds);
      if (!running) {
        bar.start(event.lastSequence, event.sequence, { rate });
        running = true;
      } else {
        bar.setTotal(event.lastSequence);
        bar.update(event.sequence, { rate });
      }
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

/** The rollback-detection flags verify and restore share. */
export interface ExpectHeadFlags {
  expectHead?: string[];
  expectFromReport?: string;
}

/**
 * Add `--expect-head` (repeatable) and `--expect-from-report` to a command.
 *
 * @example
 * ```ts
 * addExpectHeadFlags(new Command('restore'));
 * ```
 */
export function addExpectHeadFlags(command: Command): Command {
  return command
    .option(
      '--expect-head <[stream:]seq:hash>',
      'a head recorded earlier that the store must still hold (rollback detection); repeatable',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--expect-from-report <file>', 'take the expected heads from a restore drill report');
}

/**
 * The expected heads the flags give (parsed, and read from the drill report).
 *
 * @example
 * ```ts
 * const expectHeads = await expectedHeadsFromFlags(flags);
 * ```
 */
export async function expectedHeadsFromFlags(flags: ExpectHeadFlags): Promise<ExpectedHead[]> {
  const heads = (flags.expectHead ?? []).map(parseExpectedHead);
  if (flags.expectFromReport !== undefined) {
    heads.push(...(await headsFromReport(flags.expectFromReport)));
  }
  return heads;
}

/** The store flags verify, restore and keys share. */
export interface StoreFlags {
  store: string;
  tokenFile?: string;
  s3Endpoint?: string;
  s3Region?: string;
  insecureHttp?: boolean;
}

/**
 * Add `--store` and the flags a remote store needs to a command.
 *
 * @example
 * ```ts
 * addStoreFlags(new Command('verify'));
 * ```
 */
export function addStoreFlags(command: Command): Command {
  return command
    .requiredOption('--store <url>', 'folder path, file: URL, s3://bucket/prefix or https:// URL')
    .option('--token-file <file>', 'https store: bearer token file (else CLOUD_API_TOKEN)')
    .option('--s3-endpoint <url>', 's3 store: endpoint of an S3-compatible service')
    .option('--s3-region <region>', 's3 store: region')
    .option('--insecure-http', 'allow plain http:// to a host that is not loopback');
}

/**
 * Open the store the flags name (token from `--token-file` or `CLOUD_API_TOKEN`).
 *
 * @example
 * ```ts
 * const store = await openStoreFromFlags(options, logger);
 * ```
 */
export async function openStoreFromFlags(flags: StoreFlags, logger: Logger): Promise<ObjectStore> {
  let token = process.env.CLOUD_API_TOKEN;
  if (flags.tokenFile !== undefined) {
    try {
      token = (await readFile(flags.tokenFile, 'utf8')).trim();
    } catch (error) {
      throw new UsageError(`read token file "${flags.tokenFile}": ${(error as Error).message}`, {
        hint: 'write the store token alone in the file given to --token-file (mode 0600)',
      });
    }
  }
  return openStore(flags.store, {
    token,
    s3Endpoint: flags.s3Endpoint,
    s3Region: flags.s3Region,
    insecureHttp: flags.insecureHttp,
    logger,
  });
}
