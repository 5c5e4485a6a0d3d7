import { access, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  generateSigningKey,
  loadSigningKey,
  type SigningKey,
  writeSigningKey,
} from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';

/** Base name of the signing key the replicator makes in its state folder. */
export const STATE_SIGNING_KEY_NAME = 'signing';

/**
 * The signing key kept in the state folder: loaded when it exists, else made once (Ed25519,
 * `signing.pem` mode 0600 and `signing.pub`). Making one is logged at info with the path of the
 * public half, which belongs beside the recovery key: verify and restore need it.
 *
 * @example
 * ```ts
 * const signingKey = await ensureStateSigningKey('./state', { logger });
 * ```
 */
export async function ensureStateSigningKey(
  stateDir: string,
  options: { logger?: Logger } = {},
): Promise<SigningKey> {
  const log = options.logger ?? silentLogger;
  const privatePath = resolve(join(stateDir, `${STATE_SIGNING_KEY_NAME}.pem`));
  const publicPath = resolve(join(stateDir, `${STATE_SIGNING_KEY_NAME}.pub`));

  // Made before: load it, and restore its public half if a crash cut the pair short.
  if (await exists(privatePath)) {
    const key = await loadSigningKey(privatePath);
    if (!(await exists(publicPath))) {
      const pem = key.publicKey.export({ type: 'spki', format: 'pem' });
      await writeFile(publicPath, pem, { mode: 0o644, flag: 'wx' });
    }
    log.info({ keyId: key.keyId, publicKey: publicPath }, 'signing key loaded from state folder');
    return key;
  }

  // First start without --signing-key: make one, once.
  const key = generateSigningKey();
  await writeSigningKey(key, resolve(stateDir), STATE_SIGNING_KEY_NAME);
  log.info(
    { keyId: key.keyId, publicKey: publicPath },
    'signing key created in state folder: keep a copy of its public half beside the recovery key',
  );
  return key;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
