import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import {
  generateRecoveryKey,
  generateSigningKey,
  keyIdOf,
  RECOVERY_KEY_BITS,
  readPassphraseFile,
  writeKeyPair,
  writeSigningKey,
} from '../../keys/index.js';
import { action } from '../action.js';

/** The four files keygen writes, always with these names. */
export const KEYGEN_FILES = ['recovery.pem', 'recovery.pub', 'signing.pem', 'signing.pub'];

interface KeygenOptions {
  out: string;
  bits: string;
  passphraseFile?: string;
}

/**
 * `crypto-replicator keygen --out DIR [--bits 3072|4096] [--passphrase-file F]`: write the
 * recovery key pair (RSA) and the replicator's signing key pair (Ed25519), never overwriting.
 *
 * @example
 * ```sh
 * crypto-replicator keygen --out keys --passphrase-file /run/secrets/recovery-passphrase
 * ```
 */
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('write a recovery key pair (RSA) and a signing key pair (Ed25519)')
    .requiredOption('--out <dir>', 'folder for recovery.pem/.pub and signing.pem/.pub')
    .option('--bits <bits>', 'RSA modulus length of the recovery key: 3072 or 4096', '3072')
    .option('--passphrase-file <file>', 'encrypt recovery.pem with the passphrase in this file')
    .action(action(keygen));
}

async function keygen(options: KeygenOptions): Promise<void> {
  // Guard: a supported size, a readable passphrase, and no key already in place.
  const bits = Number(options.bits);
  if (!(RECOVERY_KEY_BITS as readonly number[]).includes(bits)) {
    throw new UsageError(`invalid --bits "${options.bits}": expected 3072 or 4096`);
  }
  const passphrase =
    options.passphraseFile === undefined
      ? undefined
      : await readPassphraseFile(options.passphraseFile);
  for (const file of KEYGEN_FILES) {
    const path = join(options.out, file);
    if (await exists(path)) {
      throw new UsageError(
        `write keys to "${options.out}": ${file} exists, refusing to overwrite`,
        {
          hint: 'choose another --out folder, or move the existing keys away first',
        },
      );
    }
  }

  // Generate and write both pairs; each file is created exclusively.
  const recovery = await generateRecoveryKey(bits);
  const recoveryPaths = await writeKeyPair(recovery, {
    dir: options.out,
    baseName: 'recovery',
    passphrase,
  });
  const signing = generateSigningKey();
  const signingPaths = await writeSigningKey(signing, options.out, 'signing');

  // Say what was written and what to do with it; never the keys themselves.
  const protection = passphrase === undefined ? 'not encrypted' : 'encrypted with the passphrase';
  process.stdout.write(
    [
      `wrote ${recoveryPaths.privatePath}: RSA ${bits} recovery private key, PKCS#8, ${protection}, mode 0600`,
      `wrote ${recoveryPaths.publicPath}: recovery public key, key id ${keyIdOf(recovery.publicKey)}`,
      `wrote ${signingPaths.privatePath}: Ed25519 signing private key for the replicator, mode 0600`,
      `wrote ${signingPaths.publicPath}: signing public key, key id ${signing.keyId}`,
      `next: move ${recoveryPaths.privatePath} offline; the replicator needs only recovery.pub and signing.pem`,
      '',
    ].join('\n'),
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
