import { readFileSync } from 'node:fs';

/** How long to wait for a postmaster to go away after a fast-shutdown request. */
export const POSTMASTER_STOP_TIMEOUT_MS = 15_000;

/**
 * The process id recorded in a data folder's `postmaster.pid`, when that process is alive and
 * is a PostgreSQL server (so that a stale file whose pid was reused is never acted on).
 *
 * @example
 * ```ts
 * const pid = runningPostmaster('/tmp/demo/postgres/data'); // => 41237 or undefined
 * ```
 */
export function runningPostmaster(dataDir: string): number | undefined {
  // Guard: no file, or not a number, means no server of ours.
  let text: string;
  try {
    text = readFileSync(`${dataDir}/postmaster.pid`, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;

  // The pid must be alive and still be a postgres process.
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!command.includes('postgres')) return undefined;
  } catch {
    try {
      process.kill(pid, 0);
    } catch {
      return undefined;
    }
  }
  return pid;
}

/**
 * Ask the PostgreSQL server of a data folder for a fast shutdown (SIGINT: disconnect clients,
 * write a checkpoint, exit), synchronously, so that it can run from a process `exit` handler.
 * Returns the pid signalled, or undefined when no server of that folder runs.
 *
 * @example
 * ```ts
 * process.on('exit', () => requestPostmasterStop(dataDir));
 * ```
 */
export function requestPostmasterStop(dataDir: string): number | undefined {
  const pid = runningPostmaster(dataDir);
  if (pid === undefined) return undefined;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return undefined;
  }
  return pid;
}

/**
 * Stop the server of a data folder (one left behind by a killed demo, or ours) and wait until
 * its process is gone; escalates to SIGQUIT (immediate shutdown) when the deadline passes.
 * Resolves true when a server was stopped, false when none ran or it would not go away.
 *
 * @example
 * ```ts
 * if (await stopPostmaster(dataDir)) console.log('stopped a server left by an earlier run');
 * ```
 */
export async function stopPostmaster(
  dataDir: string,
  timeoutMs = POSTMASTER_STOP_TIMEOUT_MS,
): Promise<boolean> {
  const pid = requestPostmasterStop(dataDir);
  if (pid === undefined) return false;

  // Wait for the process to exit; escalate, and give up after three times the timeout.
  const deadline = Date.now() + timeoutMs;
  let escalated = false;
  while (isAlive(pid)) {
    if (Date.now() > deadline && !escalated) {
      escalated = true;
      signal(pid, 'SIGQUIT');
    }
    if (Date.now() > deadline + timeoutMs) signal(pid, 'SIGKILL');
    if (Date.now() > deadline + 2 * timeoutMs) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** True while the process exists and is not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; state Z is an exited process not yet reaped.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
