import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/**
 * Arguments for `spawn(process.execPath, [...CLI_SPAWN_ARGS, ...args])`: the built CLI, as
 * users run it. test/support/global-setup.ts rebuilds dist/ before a run when src/ is newer,
 * so tests never run a stale build. Spawning through tsx instead costs about twice the start-up
 * time of every CLI call.
 */
export const CLI_SPAWN_ARGS: readonly string[] = [BUILT_MAIN];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the built CLI as a user would, with its own process, and collect
 * what it printed.
 *
 * @example
 * ```ts
 * const result = await runCli(['keygen', '--out', dir]);
 * expect(result.code).toBe(0);
 * ```
 */
export function runCli(
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, ...args], {
      cwd: options.cwd,
      env: { ...process.env, DEBUG: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The CLI's TypeScript entry point, for spawning through tsx (`--import tsx`). */
export const CLI_MAIN = MAIN;
