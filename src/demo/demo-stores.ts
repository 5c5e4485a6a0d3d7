import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { FileStore } from '../store/file-store.js';
import { openStore } from '../store/open-store.js';
import type { ObjectStore } from '../store/store.js';
import { startVault } from '../vault/start-vault.js';
import type { CleanupStack } from './cleanup-stack.js';

/** The demo's store, opened once for the replicator and once for verify and restore. */
export interface DemoStores {
  /** What the replicator writes to (with the vault: the write-only token). */
  write: ObjectStore;
  /** What verify, restore and the search read from (with the vault: the read-only token). */
  read: ObjectStore;
  /** Printable: where the objects go. */
  description: string;
}

/**
 * Open the demo's store: a folder `DIR/store`, or with `vault` a vault server on 127.0.0.1 (a
 * free port) keeping its objects in `DIR/vault`, with freshly generated write and read tokens
 * saved in `DIR/tokens`.
 *
 * @example
 * ```ts
 * const stores = await openDemoStores({ dir, vault: true, cleanup, logger });
 * ```
 */
export async function openDemoStores(options: {
  dir: string;
  vault: boolean;
  cleanup: CleanupStack;
  logger: Logger;
}): Promise<DemoStores> {
  // The plain case: a local folder, the reference backend.
  if (!options.vault) {
    const folder = join(options.dir, 'store');
    const write = new FileStore(folder);
    const read = new FileStore(folder);
    options.cleanup.push('close the store', async () => {
      await write.close();
      await read.close();
    });
    return { write, read, description: `folder ${folder}` };
  }

  // A vault over a folder, reached over HTTP on loopback with two tokens.
  const tokenDir = join(options.dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const writeToken = randomBytes(32).toString('hex');
  const readToken = randomBytes(32).toString('hex');
  await writeFile(join(tokenDir, 'vault-write.token'), `${writeToken}\n`, { mode: 0o600 });
  await writeFile(join(tokenDir, 'vault-read.token'), `${readToken}\n`, { mode: 0o600 });
  const vault = await startVault({
    store: new FileStore(join(options.dir, 'vault')),
    writeToken,
    readToken,
    host: '127.0.0.1',
    port: 0,
    logger: options.logger,
  });
  options.cleanup.push('stop the vault server', () => vault.close());
  const write = await openStore(vault.url, { token: writeToken, logger: options.logger });
  const read = await openStore(vault.url, { token: readToken, logger: options.logger });
  options.cleanup.push('close the vault clients', async () => {
    await write.close();
    await read.close();
  });
  return { write, read, description: `vault ${vault.url} (objects in ${options.dir}/vault)` };
}
