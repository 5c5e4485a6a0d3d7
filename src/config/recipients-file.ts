import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * Read a recipients file: one public key PEM path per line; relative paths are resolved against
 * the file's folder; `#` comments and blank lines are ignored. Returns the paths in file order.
 *
 * @example
 * ```ts
 * // keys/recipients.txt:  "# team\nrecovery-a.pub\n/secure/recovery-b.pub\n"
 * const paths = await readRecipientsFile('keys/recipients.txt');
 * ```
 */
export async function readRecipientsFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(
      `read recipients file "${path}": ${code === 'ENOENT' ? 'no such file' : code}`,
      {
        hint: 'pass --recipients-file (or RECIPIENTS_FILE) the path of a text file listing public key paths',
      },
    );
  }

  // One path per line; comments and blank lines carry no key.
  const folder = dirname(resolve(path));
  const paths = text
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => resolve(folder, line));
  if (paths.length === 0) {
    throw new UsageError(`read recipients file "${path}": no public key path in it`, {
      hint: 'list one public key PEM path per line (# starts a comment)',
    });
  }
  return paths;
}
