import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
 * A process and all its descendants, parent first (Linux /proc). The CLI's long-running
 * commands are a small launcher and the bounded process it started (src/cli/bounded-heap.ts).
 *
 * @example
 * ```ts
 * const pids = processTree(child.pid); // => [launcher, replicator]
 * ```
 */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    const id = tree[i]!;
    try {
      for (const task of readdirSync(`/proc/${id}/task`)) {
        const children = readFileSync(`/proc/${id}/task/${task}/children`, 'utf8');
        for (const child of children.trim().split(/\s+/))
          if (child !== '') tree.push(Number(child));
      }
    } catch {
      // Gone meanwhile: nothing below it either.
    }
  }
  return tree;
}

/** True while a process runs (exists and is not a zombie waiting to be reaped). */
export function processRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Peak resident memory of a process tree as one figure: the peaks (VmHWM) of each process seen
 * so far, summed. Counts the pages the processes share (the node binary) once per process, so
 * it errs high. Call `sample()` while the tree runs; `bytes` is the figure.
 *
 * @example
 * ```ts
 * const peak = new TreePeak(child.pid);
 * await peak.sample();
 * mib(peak.bytes);
 * ```
 */
export class TreePeak {
  readonly #root: number;
  readonly #peaks = new Map<number, number>();

  constructor(root: number) {
    this.#root = root;
  }

  /** Read VmHWM of every process in the tree now; returns the sum so far. */
  async sample(): Promise<number> {
    for (const pid of processTree(this.#root)) {
      const bytes = await peakRssOf(pid);
      if (bytes !== undefined && bytes > (this.#peaks.get(pid) ?? 0)) this.#peaks.set(pid, bytes);
    }
    return this.bytes;
  }

  /** Sum of the per-process peaks seen, in bytes. */
  get bytes(): number {
    let sum = 0;
    for (const bytes of this.#peaks.values()) sum += bytes;
    return sum;
  }
}

/**
 * Run a CLI command as a child process and sample the peak RSS (VmHWM) of its process tree
 * (TreePeak) every 100 ms until it exits; the last sample before the exit is the peak, give or
 * take 100 ms of growth.
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
    const peak = new TreePeak(child.pid ?? -1);
    const timer = setInterval(() => void peak.sample(), 100);
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({
        code: code ?? -1,
        stderr: Buffer.concat(stderr).toString('utf8'),
        peakRssBytes: peak.bytes,
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
