import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CLI_SPAWN_ARGS } from '../cli.js';

/**
 * Read VmHWM (peak resident set) of a process, in bytes; undefined once it is gone.
 *
 * @example
 * ```ts
 * const bytes = await peakRssOf(child.pid);
 * ```
 */
export async function peakRssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Run a CLI command as a child process and sample its peak RSS (VmHWM) every 100 ms until it
 * exits; the last sample before the exit is the peak, give or take 100 ms of growth.
 *
 * @example
 * ```ts
 * const { code, peakRssBytes } = await runCliMeasured(['restore', ...]);
 * ```
 */
export function runCliMeasured(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stderr: string; peakRssBytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, ...args], {
      env: { ...process.env, DEBUG: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const stderr: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let peak = 0;
    const timer = setInterval(() => {
      void peakRssOf(child.pid ?? -1).then((bytes) => {
        if (bytes !== undefined && bytes > peak) peak = bytes;
      });
    }, 100);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({
        code: code ?? -1,
        stderr: Buffer.concat(stderr).toString('utf8'),
        peakRssBytes: peak,
      });
    });
  });
}

/**
 * Bytes as MiB with one decimal, for reports.
 *
 * @example
 * ```ts
 * mib(3 * 1024 * 1024); // => '3.0 MiB'
 * ```
 */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
