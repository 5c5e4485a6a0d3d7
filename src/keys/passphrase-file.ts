import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { fileError } from './pem-file.js';

/**
 * Read a passphrase from a file: its first line, without the line ending. An empty passphrase
 * is refused.
 *
 * @example
 * ```ts
 * const passphrase = await readPassphraseFile('/run/secrets/recovery-passphrase');
 * ```
 */
export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(path, 'passphrase file', error);
  }
  const passphrase = text.split(/\r?\n/, 1)[0] ?? '';
  if (passphrase === '') {
    throw new UsageError(`read passphrase file "${path}": the first line is empty`, {
      hint: 'write the passphrase on the first line of the file',
    });
  }
  return passphrase;
}
