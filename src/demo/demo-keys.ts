import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Identity, Recipient, SigningKey, VerifyKey } from '../keys/index.js';
import {
  generateRecoveryKey,
  generateSigningKey,
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  loadVerifyKey,
  writeKeyPair,
  writeSigningKey,
} from '../keys/index.js';

/** Size of the demo's recovery key: the smallest keygen offers, quick to generate. */
export const DEMO_RECOVERY_KEY_BITS = 3072;

/** File names say what the keys are, so that nobody mistakes them for real ones. */
export const DEMO_KEY_PREFIX = 'DEMO-THROWAWAY';

/** The demo's keys, loaded back from the files it wrote, as the real commands do. */
export interface DemoKeys {
  dir: string;
  recoveryPrivatePath: string;
  recoveryPublicPath: string;
  signingPublicPath: string;
  recipient: Recipient;
  identity: Identity;
  signingKey: SigningKey;
  verifyKey: VerifyKey;
}

const KEYS_README = `These keys were made by "crypto-replicator demo" for one demo run.
They are throwaway keys: never use them for real data, never reuse them.
Make real keys with "crypto-replicator keygen" and keep the recovery private key offline.
`;

/**
 * Make a fresh throwaway recovery key pair (RSA) and signing key pair (Ed25519) in
 * `DIR/keys`, labelled DEMO-THROWAWAY in their names and beside them in a README.
 *
 * @example
 * ```ts
 * const keys = await makeDemoKeys('/tmp/crypto-replicator-demo-x1');
 * keys.recipient.keyId; // => '9c1e…'
 * ```
 */
export async function makeDemoKeys(demoDir: string): Promise<DemoKeys> {
  const dir = join(demoDir, 'keys');

  // Generate and write both pairs; writeKeyPair refuses to overwrite an existing key.
  const recovery = await generateRecoveryKey(DEMO_RECOVERY_KEY_BITS);
  const recoveryPaths = await writeKeyPair(recovery, {
    dir,
    baseName: `${DEMO_KEY_PREFIX}-recovery`,
  });
  const signingPaths = await writeSigningKey(
    generateSigningKey(),
    dir,
    `${DEMO_KEY_PREFIX}-signing`,
  );
  await writeFile(join(dir, 'README-THROWAWAY-KEYS.txt'), KEYS_README, { mode: 0o644 });

  // Load them back through the same loaders the commands use.
  return {
    dir,
    recoveryPrivatePath: recoveryPaths.privatePath,
    recoveryPublicPath: recoveryPaths.publicPath,
    signingPublicPath: signingPaths.publicPath,
    recipient: await loadRecipient(recoveryPaths.publicPath),
    identity: await loadIdentity(recoveryPaths.privatePath),
    signingKey: await loadSigningKey(signingPaths.privatePath),
    verifyKey: await loadVerifyKey(signingPaths.publicPath),
  };
}
