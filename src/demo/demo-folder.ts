import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { stopPostmaster } from './postmaster.js';

/** The file that marks a folder as the demo's own, safe to empty and delete. */
export const DEMO_MARKER_FILE = 'DEMO-FOLDER.txt';

const MARKER_TEXT = `This folder was made by "crypto-replicator demo": throwaway keys, a throwaway
store and databases. Nothing here is meant to be kept; a new demo run here replaces it all.
`;

/**
 * Prepare the demo's folder: a new temporary folder, or the one given with `--dir`, which must
 * be empty, missing, or left by an earlier demo (then its server is stopped and its contents,
 * keys included, are replaced: demo keys are never reused).
 *
 * @example
 * ```ts
 * const dir = await prepareDemoFolder(undefined); // => '/tmp/crypto-replicator-demo-Ab3xYz'
 * ```
 */
export async function prepareDemoFolder(requested: string | undefined): Promise<string> {
  // No folder asked for: a fresh one under the system's temporary folder.
  if (requested === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'crypto-replicator-demo-'));
    // Searchable but not listable by others: the embedded server's user must reach its folder.
    await chmod(dir, 0o711);
    await writeFile(join(dir, DEMO_MARKER_FILE), MARKER_TEXT);
    return dir;
  }

  // Guard: never empty a folder the demo did not make.
  const dir = resolve(requested);
  const entries = existsSync(dir) ? await readdir(dir) : [];
  if (entries.length > 0 && !entries.includes(DEMO_MARKER_FILE)) {
    throw new UsageError(`prepare demo folder "${requested}": not empty and not a demo folder`, {
      hint: 'pass a new or empty folder with --dir, or leave --dir out for a temporary one',
    });
  }

  // An earlier demo's folder: stop a server it left running, then start afresh.
  if (entries.length > 0) {
    await stopPostmaster(join(dir, 'postgres', 'data'));
    for (const entry of entries) await rm(join(dir, entry), { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, DEMO_MARKER_FILE), MARKER_TEXT);
  return dir;
}
