import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_SPAWN_ARGS } from '../cli.js';
import { waitFor } from '../wait-for.js';
import { processRunning, processTree, TreePeak } from './peak-rss.js';

/** Children started by this module, so that a failing test still stops them (afterAll). */
const children = new Set<ChildProcess>();

/** A `crypto-replicator run` child process. */
export interface ReplicatorProcess {
  readonly pid: number;
  readonly metricsPort?: number;
  /**
   * Resolves with the exit code (or the signal name) once the process is gone, and the bounded
   * process the CLI launcher started with it (see src/cli/bounded-heap.ts).
   */
  readonly exited: Promise<number | string>;
  /** Everything it wrote to stderr and stdout so far (JSON log lines). */
  output(): string;
  /** False once the process has exited. */
  running(): boolean;
  /** Send a signal; SIGKILL models a crash. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | string>;
  /**
   * Peak resident memory so far of the process tree users run (the launcher and the bounded
   * replicator: TreePeak), in bytes; undefined once exited.
   */
  peakRssBytes(): Promise<number | undefined>;
  /** GET /healthz or /readyz: the status code, or undefined while nothing answers. */
  probe(
    path: '/healthz' | '/readyz' | '/metrics',
  ): Promise<{ status: number; body: string } | undefined>;
}

/** A started replicator with waits on its health endpoints. */
export interface StartedReplicator extends ReplicatorProcess {
  /** Wait until /readyz answers 200 (running, no old unstored change). */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Wait until /healthz answers 200 (the process is up and not failing). */
  waitLive(timeoutMs?: number): Promise<void>;
}

/**
 * Start the real CLI (`node dist/cli/main.js run …`) as a child process, the way an operator
 * runs it, with its output collected for the test log.
 *
 * @example
 * ```ts
 * const replicator = startReplicator(['--database-url', url, '--mode', 'logical', ...], 9464);
 * await replicator.waitHealthy();
 * replicator.kill('SIGKILL');
 * ```
 */
export function startReplicator(
  args: string[],
  options: { metricsPort?: number; env?: NodeJS.ProcessEnv } = {},
): StartedReplicator {
  const portArgs =
    options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)];
  const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, 'run', ...args, ...portArgs], {
    env: { ...process.env, DEBUG: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
  // The launcher's descendants, read before each signal: after a SIGKILL of the launcher the
  // bounded process ends on its own, and the process counts as gone only once it has.
  let descendants: number[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      void waitFor(() => !descendants.some(processRunning), {
        timeoutMs: 30_000,
        what: 'the bounded replicator to end with its launcher',
      })
        .catch(() => {})
        .then(() => {
          children.delete(child);
          resolve(code ?? signal ?? -1);
        });
    });
  });
  const signal = (name: NodeJS.Signals) => {
    descendants = processTree(child.pid ?? -1).slice(1);
    child.kill(name);
  };
  const peak = new TreePeak(child.pid ?? -1);
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const probe: ReplicatorProcess['probe'] = async (path) => {
    if (options.metricsPort === undefined) return undefined;
    try {
      const response = await fetch(`http://127.0.0.1:${options.metricsPort}${path}`, {
        signal: AbortSignal.timeout(2000),
      });
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  };

  const waitStatus = async (path: '/readyz' | '/healthz', timeoutMs: number) => {
    await waitFor(
      async () => {
        if (gone)
          throw new Error(
            `replicator exited early:\n${tail(Buffer.concat(chunks).toString('utf8'))}`,
          );
        return (await probe(path))?.status === 200;
      },
      { timeoutMs, what: `the replicator to answer 200 on ${path}`, intervalMs: 100 },
    );
  };

  return {
    pid: child.pid ?? -1,
    metricsPort: options.metricsPort,
    exited,
    output: () => Buffer.concat(chunks).toString('utf8'),
    running: () => !gone,
    kill: (name) => {
      if (!gone) signal(name);
    },
    async stop() {
      if (!gone) signal('SIGTERM');
      return exited;
    },
    async peakRssBytes() {
      if (gone) return undefined;
      return peak.sample();
    },
    probe,
    waitReady: (timeoutMs = 60_000) => waitStatus('/readyz', timeoutMs),
    waitLive: (timeoutMs = 60_000) => waitStatus('/healthz', timeoutMs),
  };
}

/**
 * Kill every replicator child still running (for afterAll, so a failing test leaves none).
 *
 * @example
 * ```ts
 * afterAll(async () => { await killAllReplicators(); });
 * ```
 */
export async function killAllReplicators(): Promise<void> {
  const waits = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        const tree = processTree(child.pid ?? -1);
        child.once('exit', () => resolve());
        for (const pid of tree.reverse()) killQuietly(pid);
      }),
  );
  await Promise.all(waits);
}

/**
 * The last lines of a log, for failure messages.
 *
 * @example
 * ```ts
 * throw new Error(`replicator exited:\n${tail(replicator.output())}`);
 * ```
 */
export function tail(text: string, lines = 15): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
