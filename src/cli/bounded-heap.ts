import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * Commands that run long or hold much data, and so run with a bounded V8 heap by default.
 * Node's default heap lets the old generation grow lazily to hundreds of MiB before a full
 * collection; these commands live far below that (issue 6: peak RSS at most 256 MiB).
 */
export const BOUNDED_COMMANDS: ReadonlySet<string> = new Set(['run', 'restore', 'vault', 'demo']);

/** Default cap of the V8 old generation for those commands, in MiB. */
export const DEFAULT_MAX_HEAP_MB = 128;
/** Cap of each of the two young-generation semi-spaces, in MiB (Node 20 defaults to 16). */
export const MAX_SEMI_SPACE_MB = 8;
/** Environment variable that changes the cap (MiB), or turns the bound off with `0`. */
export const MAX_HEAP_ENV = 'CRYPTO_REPLICATOR_MAX_HEAP_MB';

/** Smallest and largest caps accepted from the environment, in MiB. */
const MIN_HEAP_MB = 64;
const MAX_HEAP_MB = 65_536;

/** How to start the bounded process: Node's arguments and the heap cap, for the log. */
export interface BoundedLaunch {
  nodeArgs: string[];
  maxHeapMb: number;
}

/** Thrown for an invalid CRYPTO_REPLICATOR_MAX_HEAP_MB, before anything starts. */
export class HeapSettingError extends Error {}

/**
 * Decide whether this CLI call re-executes itself with heap flags. It does for the commands of
 * BOUNDED_COMMANDS, unless the user chose the heap size already (`--max-old-space-size` in
 * NODE_OPTIONS or Node's own arguments) or set CRYPTO_REPLICATOR_MAX_HEAP_MB=0.
 *
 * @example
 * ```ts
 * const launch = boundedLaunch({ argv: process.argv, execArgv: process.execArgv, env: process.env });
 * if (launch !== undefined) process.exitCode = await runBounded(launch);
 * ```
 */
export function boundedLaunch(options: {
  argv: readonly string[];
  execArgv: readonly string[];
  env: NodeJS.ProcessEnv;
}): BoundedLaunch | undefined {
  const { argv, execArgv, env } = options;
  const args = argv.slice(2);
  const command = args.find((arg) => !arg.startsWith('-'));
  if (command === undefined || !BOUNDED_COMMANDS.has(command)) return undefined;
  if (args.some((arg) => ['--help', '-h', '--version', '-V'].includes(arg))) return undefined;

  // The user's own heap flags win, wherever they are given.
  const nodeFlags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (nodeFlags.some((flag) => /^--max[-_]old[-_]space[-_]size\b/.test(flag))) return undefined;
  const maxHeapMb = maxHeapFromEnv(env[MAX_HEAP_ENV]);
  if (maxHeapMb === 0) return undefined;

  // NOTE: the user's other Node flags (e.g. --import tsx) come first so the script still loads.
  const heapFlags = [`--max-old-space-size=${maxHeapMb}`];
  if (!nodeFlags.some((flag) => /^--max[-_]semi[-_]space[-_]size\b/.test(flag))) {
    heapFlags.push(`--max-semi-space-size=${MAX_SEMI_SPACE_MB}`);
  }
  return { nodeArgs: [...execArgv, ...heapFlags, ...argv.slice(1)], maxHeapMb };
}

/** The cap from CRYPTO_REPLICATOR_MAX_HEAP_MB: a whole number of MiB, or 0 for Node's own. */
function maxHeapFromEnv(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_HEAP_MB;
  const mb = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (mb === 0 || (mb >= MIN_HEAP_MB && mb <= MAX_HEAP_MB)) return mb;
  throw new HeapSettingError(
    `invalid ${MAX_HEAP_ENV} "${value}": expected whole MiB between ${MIN_HEAP_MB} and ${MAX_HEAP_MB}, or 0 for Node's default heap`,
  );
}

/** Signals passed on to the bounded process; it handles them as if sent to it directly. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/**
 * Run the bounded process with inherited stdio and wait for it. Signals sent to this launcher
 * are forwarded; the launcher ends the way the child ended (same exit code, or the same signal
 * raised on itself). Returns the exit code when the child exited normally.
 *
 * @example
 * ```ts
 * process.exitCode = await runBounded(launch);
 * ```
 */
export function runBounded(launch: BoundedLaunch): Promise<number> {
  // The child leads its own process group, so Ctrl-C reaches it once (forwarded from here), not
  // twice (once from the terminal, once forwarded), which run and restore read as "quit now".
  // The IPC channel is how the child learns that this launcher died without forwarding (SIGKILL).
  const child = spawn(process.execPath, launch.nodeArgs, {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    detached: process.platform !== 'win32',
    env: { ...process.env, [LAUNCHED_ENV]: String(process.pid) },
  });
  const forward = (signal: NodeJS.Signals) => {
    child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  // Ctrl-Z: the child is in another process group, so stop it along with this launcher (the
  // shell sees the launcher stopped), and let it go on when the shell continues the launcher.
  const suspend = () => {
    child.kill('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  };
  const resume = () => {
    child.kill('SIGCONT');
  };
  process.on('SIGTSTP', suspend);
  process.on('SIGCONT', resume);

  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const name of FORWARDED_SIGNALS) process.off(name, forward);
      process.off('SIGTSTP', suspend);
      process.off('SIGCONT', resume);
      if (signal !== null) {
        // Die of the same signal, so a shell or supervisor sees what happened.
        process.kill(process.pid, signal);
        resolve(128 + (constants.signals[signal] ?? 0));
        return;
      }
      resolve(code ?? 1);
    });
  });
}

/** Set in the bounded process: the launcher's pid. */
export const LAUNCHED_ENV = 'CRYPTO_REPLICATOR_LAUNCHER_PID';

/**
 * In the bounded process: end at once when the launcher is gone (killed with SIGKILL, which it
 * cannot forward), as the single process users started would have. The IPC channel does not
 * keep this process alive.
 *
 * @example
 * ```ts
 * followLauncher();
 * ```
 */
export function followLauncher(): void {
  if (process.env[LAUNCHED_ENV] === undefined || process.channel === undefined) return;
  delete process.env[LAUNCHED_ENV];
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
