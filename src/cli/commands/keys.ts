import { Command } from 'commander';
import { createLogger } from '../../log/logger.js';
import { listStoreKeys, type StoreKey } from '../../restore/list-store-keys.js';
import { action, debugEnabled } from '../action.js';
import { addStoreFlags, openStoreFromFlags, type StoreFlags } from './restore.js';

/**
 * `crypto-replicator keys list --store URL [--json]`: the key ids a store's objects name, their
 * role, algorithm and size in bits, and which segments use them, read from headers without
 * decrypting.
 *
 * @example
 * ```sh
 * crypto-replicator keys list --store ./twin
 * ```
 */
export function keysCommand(): Command {
  const list = addStoreFlags(
    new Command('list').description(
      'list key ids, algorithms, sizes and the segments that use them',
    ),
  )
    .option('--json', 'print the list as JSON')
    .action(action(listKeys));
  return new Command('keys')
    .description('list the recipient and signing keys a store uses')
    .addCommand(list.exitOverride());
}

async function listKeys(flags: StoreFlags & { json?: boolean }): Promise<void> {
  const logger = createLogger({ level: debugEnabled() ? 'debug' : 'warn' });
  const store = await openStoreFromFlags(flags, logger);
  try {
    const result = await listStoreKeys(store);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const lines = result.keys.map(describeKey);
    if (lines.length === 0) lines.push(`no keys: ${store.url} holds no segment or envelope`);
    for (const name of result.unreadable) lines.push(`unreadable: ${name}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await store.close();
  }
}

function describeKey(key: StoreKey): string {
  const uses = key.segments.map((s) => {
    const ranges = s.ranges.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`));
    return `stream ${s.streamId} segments ${ranges.join(',')}`;
  });
  if (key.envelopes > 0) uses.push(`${key.envelopes} v1 envelope(s)`);
  const sizes = [key.bits, ...(key.otherBits ?? [])].filter((b) => b !== undefined);
  const size = sizes.length === 0 ? 'size unknown' : sizes.map((b) => `${b}-bit`).join('/');
  return `${key.role} ${key.type} ${size} ${key.keyId}: ${uses.join('; ')}`;
}
