import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_SPAWN_ARGS } from '../support/cli.js';
import { waitFor } from '../support/wait-for.js';

export interface VaultProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Start `crypto-replicator vault` as its own process and wait for the URL it prints. */
export async function spawnVault(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<VaultProcess> {
  const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, 'vault', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBUG: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr!.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`vault exited: ${stderr}`);
      return /vault listening on (\S+)/.exec(stdout)?.[1];
    },
    { timeoutMs: 30_000, what: 'the vault to listen' },
  );
  return { child, url, stderr: () => stderr, exited };
}
