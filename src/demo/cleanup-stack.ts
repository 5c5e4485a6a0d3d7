/** Milliseconds one clean-up step may take before the next one runs anyway. */
export const CLEANUP_STEP_TIMEOUT_MS = 20_000;

/**
 * Things to undo, in reverse order of creation: stop the replicator before the database it
 * reads, the database before deleting its folder. Running it twice (finish and Ctrl-C at the
 * same moment) runs each step once; a failing or hanging step does not keep the others from
 * running.
 *
 * @example
 * ```ts
 * const cleanup = new CleanupStack();
 * cleanup.push('stop postgresql', () => server.stop());
 * await cleanup.run();
 * ```
 */
export class CleanupStack {
  readonly #steps: Array<{ label: string; undo: () => Promise<void> | void }> = [];
  #running: Promise<string[]> | undefined;

  /** Register a step; it runs before every step registered earlier. */
  push(label: string, undo: () => Promise<void> | void): void {
    this.#steps.push({ label, undo });
  }

  /** Run every step once, newest first. Resolves with the labels of steps that failed. */
  run(): Promise<string[]> {
    this.#running ??= this.#runAll();
    return this.#running;
  }

  async #runAll(): Promise<string[]> {
    const failed: string[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await withTimeout(Promise.resolve().then(step.undo), CLEANUP_STEP_TIMEOUT_MS);
      } catch {
        failed.push(step.label);
      }
    }
    return failed;
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
