import { generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import type { SigningKey } from './key-types.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Recovery key sizes keygen offers, in bits. */
export const RECOVERY_KEY_BITS = [3072, 4096] as const;

/** Paths a key pair was written to. */
export interface KeyPairPaths {
  privatePath: string;
  publicPath: string;
}

/**
 * Generate an RSA recovery key pair (public exponent 65537) off the main thread.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = await generateRecoveryKey(3072);
 * ```
 */
export async function generateRecoveryKey(
  bits: number,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
}

/**
 * Write a key pair as `DIR/BASE.pem` (PKCS#8, mode 0600; when a passphrase is given, encrypted
 * as PBES2 with PBKDF2 and AES-256-CBC) and `DIR/BASE.pub` (SPKI). Refuses to overwrite either
 * file; creates DIR when missing.
 *
 * @example
 * ```ts
 * await writeKeyPair(pair, { dir: 'keys', baseName: 'recovery', passphrase });
 * ```
 */
export async function writeKeyPair(
  pair: { privateKey: KeyObject; publicKey: KeyObject },
  options: { dir: string; baseName: string; passphrase?: string },
): Promise<KeyPairPaths> {
  // Encode both halves first, so a failure leaves no half-written pair behind.
  const privatePem =
    options.passphrase === undefined
      ? pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
      : pair.privateKey.export({
          type: 'pkcs8',
          format: 'pem',
          cipher: 'aes-256-cbc',
          passphrase: options.passphrase,
        });
  const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' });
  const privatePath = join(options.dir, `${options.baseName}.pem`);
  const publicPath = join(options.dir, `${options.baseName}.pub`);

  // Create both files exclusively; on a clash remove only what this call created.
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  await writeExclusive(privatePath, privatePem, 0o600);
  try {
    await writeExclusive(publicPath, publicPem, 0o644);
  } catch (error) {
    await unlink(privatePath);
    throw error;
  }
  return { privatePath, publicPath };
}

/**
 * Write a signing key pair as `DIR/BASE.pem` and `DIR/BASE.pub`, refusing to overwrite.
 *
 * @example
 * ```ts
 * await writeSigningKey(generateSigningKey(), 'keys', 'signing');
 * ```
 */
export async function writeSigningKey(
  key: SigningKey,
  dir: string,
  baseName: string,
): Promise<KeyPairPaths> {
  return writeKeyPair(key, { dir, baseName });
}

async function writeExclusive(path: string, text: string | Buffer, mode: number): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', mode);
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new UsageError(`write key "${path}": file exists, refusing to overwrite`, {
        hint: 'choose another --out directory, or move the existing keys away first',
      });
    }
    throw new UsageError(`write key "${path}": ${(error as Error).message}`);
  }
  try {
    await handle.writeFile(text);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
