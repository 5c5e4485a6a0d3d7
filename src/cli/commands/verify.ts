import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { IntegrityError, UsageError } from '../../errors.js';
import { loadVerifyKey } from '../../keys/index.js';
import { createLogger } from '../../log/logger.js';
import { formatVerifyReport } from '../../restore/format-report.js';
import type { RestoreReport } from '../../restore/restore-report.js';
import { verifyStore } from '../../restore/verify-store.js';
import type { ExpectedHead } from '../../restore/verify-types.js';
import { action, debugEnabled } from '../action.js';
import { addStoreFlags, openStoreFromFlags, type StoreFlags } from './restore.js';

interface VerifyFlags extends StoreFlags {
  verifyKey?: string;
  json?: boolean;
  expectHead?: string[];
  expectFromReport?: string;
}

/**
 * `crypto-replicator verify --store URL [--verify-key signing.pub] [--json]`: check a store with
 * public keys only; exit 0 only when it is intact.
 *
 * @example
 * ```sh
 * crypto-replicator verify --store ./twin --verify-key keys/signing.pub
 * ```
 */
export function verifyCommand(): Command {
  const command = new Command('verify').description(
    'check a store for completeness and authenticity without the private key',
  );
  return addStoreFlags(command)
    .option('--verify-key <signing.pub>', 'the replicator public signing key (proves authenticity)')
    .option('--json', 'print the report as JSON')
    .option(
      '--expect-head <[stream:]seq:hash>',
      'a head recorded earlier that the store must still hold (rollback detection)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--expect-from-report <file>', 'take the expected heads from a restore drill report')
    .action(action(verify));
}

async function verify(flags: VerifyFlags): Promise<void> {
  // Inputs first: keys and expected heads, before touching the store.
  const logger = createLogger({ level: debugEnabled() ? 'debug' : 'warn' });
  const verifyKey =
    flags.verifyKey === undefined ? undefined : await loadVerifyKey(flags.verifyKey);
  const expectHeads = (flags.expectHead ?? []).map(parseExpectedHead);
  if (flags.expectFromReport !== undefined) {
    expectHeads.push(...(await headsFromReport(flags.expectFromReport)));
  }

  // Verify and print.
  const store = await openStoreFromFlags(flags, logger);
  try {
    const report = await verifyStore({ store, verifyKey, expectHeads, logger });
    process.stdout.write(
      flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report),
    );
    if (!report.intact) {
      const first = report.problems[0]!;
      throw new IntegrityError(
        `verify store ${store.url}: ${report.problems.length} problem(s), first ${first.object}: ${first.kind}`,
        {
          hint: 'do not rely on this store until the problems are explained; restore up to the last intact point if you must',
        },
      );
    }
  } finally {
    await store.close();
  }
}

/**
 * Parse `--expect-head [stream:]seq:hash`.
 *
 * @example
 * ```ts
 * parseExpectedHead('42:ab12…'); // => { sequence: 42, hash: 'ab12…' }
 * ```
 */
export function parseExpectedHead(text: string): ExpectedHead {
  const match = /^(?:([0-9a-f]{32}):)?([1-9][0-9]*):([0-9a-fA-F]{64})$/.exec(text);
  if (match === null) {
    throw new UsageError(`invalid --expect-head "${text}": expected [stream:]sequence:hash`, {
      hint: 'copy the head a drill report or an earlier verify printed, e.g. 42:<64 hex characters>',
    });
  }
  return { streamId: match[1], sequence: Number(match[2]), hash: match[3]!.toLowerCase() };
}

async function headsFromReport(path: string): Promise<ExpectedHead[]> {
  let report: RestoreReport;
  try {
    report = JSON.parse(await readFile(path, 'utf8')) as RestoreReport;
  } catch (error) {
    throw new UsageError(`read drill report "${path}": ${(error as Error).message}`, {
      hint: 'pass the JSON file that "restore --report" wrote',
    });
  }
  const heads = (report.streams ?? [])
    .filter((s) => s.head !== undefined)
    .map((s) => ({ streamId: s.streamId, sequence: s.head!.sequence, hash: s.head!.hash }));
  if (heads.length === 0) {
    throw new UsageError(`read drill report "${path}": it records no stream head`);
  }
  return heads;
}
