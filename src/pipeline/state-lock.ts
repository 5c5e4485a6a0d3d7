import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** File name of the lock inside the state folder; it holds the owner's process id. */
export const LOCK_FILE_NAME = 'replicator.lock';

/** An exclusive hold on a state folder. */
export interface StateLock {
  readonly path: string;
  /** Remove the lock file. Safe to call twice. */
  release(): Promise<void>;
}

// Folders locked by this process, so a second replicator in the same process refuses too.
const heldHere = new Set<string>();

/**
 * Take the exclusive lock of a state folder: a lock file created with O_EXCL holding our pid.
 * A lock left by a process that no longer runs is stale and taken over; a live owner makes this
 * throw a UsageError naming its pid.
 *
 * @example
 * ```ts
 * const lock = await acquireStateLock('./state');
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function acquireStateLock(dir: string): Promise<StateLock> {
  const folder = resolve(dir);
  const path = join(folder, LOCK_FILE_NAME);
  if (heldHere.has(folder)) throw lockedError(folder, process.pid);
  await mkdir(folder, { recursive: true, mode: 0o700 });

  // Two attempts: the second one after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, 'wx', 0o600);
      try {
        await file.writeFile(`${process.pid}\n`, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      heldHere.add(folder);
      return makeLock(folder, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UsageError(`lock state folder "${folder}": ${(error as Error).message}`, {
          cause: error,
          hint: 'check that the state folder is writable by this user',
        });
      }
    }

    // The lock exists: refuse if its owner is alive, else remove it as stale.
    const owner = await readOwner(path);
    if (owner !== undefined && owner !== process.pid && processAlive(owner)) {
      throw lockedError(folder, owner);
    }
    await rm(path, { force: true });
  }
  throw lockedError(folder, undefined);
}

function makeLock(folder: string, path: string): StateLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(folder);
      await rm(path, { force: true });
    },
  };
}

async function readOwner(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^[1-9][0-9]*$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when a process with this id exists (EPERM: it exists but belongs to another user) and is
 * not a zombie. NOTE: a replicator whose launcher was killed exits at once but stays a zombie
 * until init reaps it, which can take a second; it holds nothing by then.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** True when /proc says the process has exited and waits to be reaped (Linux only). */
function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function lockedError(folder: string, pid: number | undefined): UsageError {
  const who = pid === undefined ? 'another replicator' : `another replicator (pid ${pid})`;
  return new UsageError(`lock state folder "${folder}": ${who} is using it`, {
    hint: 'stop the other replicator, or give this one its own --state-dir',
  });
}
