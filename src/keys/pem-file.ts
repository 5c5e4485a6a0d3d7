import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

/** What the first PEM block of a key file says it holds. */
export type PemKind = 'public' | 'private' | 'encrypted-private' | 'other';

/** A key file's text with what its first PEM block says about it. */
export interface PemText {
  path: string;
  text: string;
  label: string;
  kind: PemKind;
}

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/;

/** Largest key file read; real PEM keys are a few KiB. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * Read a key file synchronously and classify its PEM block. `what` names the key in errors,
 * e.g. `recipient key`.
 *
 * @example
 * ```ts
 * const pem = readPemFileSync('private.pem', 'recovery key'); // pem.kind === 'private'
 * ```
 */
export function readPemFileSync(path: string, what: string): PemText {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw fileError(path, what, error);
  }
  return classifyPem(path, what, bytes);
}

/**
 * Read a key file and classify its PEM block.
 *
 * @example
 * ```ts
 * const pem = await readPemFile('keys/recovery.pub', 'recipient key'); // pem.kind === 'public'
 * ```
 */
export async function readPemFile(path: string, what: string): Promise<PemText> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fileError(path, what, error);
  }
  return classifyPem(path, what, bytes);
}

/** Turn a failed read into a one-line usage error naming the file (never its contents). */
export function fileError(path: string, what: string, error: unknown): UsageError {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') {
    return new UsageError(`read ${what} "${path}": file not found`, {
      hint: 'check the path, or create keys with "crypto-replicator keygen --out keys"',
    });
  }
  if (code === 'EISDIR') {
    return new UsageError(`read ${what} "${path}": is a directory, expected a PEM file`);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new UsageError(`read ${what} "${path}": permission denied`, {
      hint: 'run as a user that may read the file',
    });
  }
  const reason = code ?? (error instanceof Error ? error.message : String(error));
  return new UsageError(`read ${what} "${path}": ${reason}`);
}

function classifyPem(path: string, what: string, bytes: Buffer): PemText {
  // Guard: a key file is small text with a PEM block.
  if (bytes.length > MAX_KEY_FILE_BYTES) {
    throw new UsageError(`read ${what} "${path}": file too large for a PEM key`);
  }
  const text = bytes.toString('utf8');
  const match = PEM_BEGIN.exec(text);
  if (match === null) {
    throw new UsageError(`read ${what} "${path}": not a PEM file`, {
      hint: 'expected text starting with "-----BEGIN …-----", as openssl or keygen writes it',
    });
  }

  // The label says the kind; traditional encrypted PKCS#1 keys carry a Proc-Type header.
  const label = match[1]!;
  let kind: PemKind = 'other';
  if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY') kind = 'public';
  if (label === 'PRIVATE KEY' || label === 'RSA PRIVATE KEY') kind = 'private';
  if (label === 'RSA PRIVATE KEY' && /Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    kind = 'encrypted-private';
  }
  if (label === 'ENCRYPTED PRIVATE KEY') kind = 'encrypted-private';
  return { path, text, label, kind };
}
