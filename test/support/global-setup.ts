import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Newest modification time of any file below `dir`, in ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    newest = Math.max(newest, mtime);
  }
  return newest;
}

/**
 * Tests spawn the built CLI (dist/), as users run it. Rebuild it once before the run when any
 * source file is newer than the build, so a test never exercises stale code.
 */
export default function setup(): void {
  let built = 0;
  try {
    built = statSync('dist/cli/main.js').mtimeMs;
  } catch {
    // Not built yet.
  }
  if (newestMtime('src') > built) {
    execFileSync(
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
      {
        stdio: 'inherit',
      },
    );
  }
}
