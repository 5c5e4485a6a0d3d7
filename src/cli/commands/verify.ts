import { Command } from 'commander';
import { IntegrityError } from '../../errors.js';
import { loadVerifyKey } from '../../keys/index.js';
import { createLogger } from '../../log/logger.js';
import { formatVerifyReport } from '../../restore/format-report.js';
import { verifyStore } from '../../restore/verify-store.js';
import { action, debugEnabled } from '../action.js';
import {
  addExpectHeadFlags,
  addStoreFlags,
  type ExpectHeadFlags,
  expectedHeadsFromFlags,
  openStoreFromFlags,
  type StoreFlags,
} from './restore.js';

export { parseExpectedHead } from '../../restore/expected-heads.js';

interface VerifyFlags extends StoreFlags, ExpectHeadFlags {
  verifyKey?: string;
  json?: boolean;
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
  addStoreFlags(command)
    .option('--verify-key <signing.pub>', 'the replicator public signing key (proves authenticity)')
    .option('--json', 'print the report as JSON');
  return addExpectHeadFlags(command).action(action(verify));
}

async function verify(flags: VerifyFlags): Promise<void> {
  // Inputs first: keys and expected heads, before touching the store.
  const logger = createLogger({ level: debugEnabled() ? 'debug' : 'warn' });
  const verifyKey =
    flags.verifyKey === undefined ? undefined : await loadVerifyKey(flags.verifyKey);
  const expectHeads = await expectedHeadsFromFlags(flags);

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
