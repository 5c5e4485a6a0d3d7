import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedLaunch, DEFAULT_MAX_HEAP_MB } from '../../src/cli/bounded-heap.js';
import { CLI_SPAWN_ARGS, runCli } from '../support/cli.js';
import { processRunning, processTree } from '../support/faults/peak-rss.js';
import { waitFor } from '../support/wait-for.js';

const MAIN = '/app/dist/cli/main.js';
const argv = (...args: string[]) => ['/usr/bin/node', MAIN, ...args];

describe('bounded heap: which calls re-execute with heap flags', () => {
  it('bounds run, restore, vault and demo by default, after the user’s own Node flags', () => {
    const launch = boundedLaunch({ argv: argv('run', '--mode', 'logical'), execArgv: [], env: {} });
    expect(launch?.nodeArgs).toEqual([
      `--max-old-space-size=${DEFAULT_MAX_HEAP_MB}`,
      '--max-semi-space-size=8',
      MAIN,
      'run',
      '--mode',
      'logical',
    ]);
    for (const command of ['restore', 'vault', 'demo']) {
      expect(boundedLaunch({ argv: argv(command), execArgv: [], env: {} })).toBeDefined();
    }
    const tsx = boundedLaunch({
      argv: argv('--debug', 'run'),
      execArgv: ['--import', 'tsx'],
      env: {},
    });
    expect(tsx?.nodeArgs.slice(0, 2)).toEqual(['--import', 'tsx']);
  });

  it('leaves short commands, --help and a user-chosen heap alone', () => {
    for (const args of [['verify'], ['keygen'], [], ['run', '--help'], ['restore', '-h']]) {
      expect(boundedLaunch({ argv: argv(...args), execArgv: [], env: {} })).toBeUndefined();
    }
    const fromEnv = { NODE_OPTIONS: '--trace-warnings --max-old-space-size=512' };
    expect(boundedLaunch({ argv: argv('run'), execArgv: [], env: fromEnv })).toBeUndefined();
    const fromArgs = ['--max_old_space_size=300'];
    expect(boundedLaunch({ argv: argv('run'), execArgv: fromArgs, env: {} })).toBeUndefined();
    const off = { CRYPTO_REPLICATOR_MAX_HEAP_MB: '0' };
    expect(boundedLaunch({ argv: argv('run'), execArgv: [], env: off })).toBeUndefined();
  });

  it('takes the cap from CRYPTO_REPLICATOR_MAX_HEAP_MB and keeps a user-chosen semi-space', () => {
    const env = { CRYPTO_REPLICATOR_MAX_HEAP_MB: '384', NODE_OPTIONS: '--max-semi-space-size=4' };
    const launch = boundedLaunch({ argv: argv('restore'), execArgv: [], env });
    expect(launch?.nodeArgs.slice(0, 2)).toEqual(['--max-old-space-size=384', MAIN]);
  });
});

describe('bounded heap: the launcher as users run it', () => {
  let dir: string;
  let tokens: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cr-bounded-heap-'));
    await writeFile(join(dir, 'w'), 'bounded-write-token-0123456789abcdef\n', { mode: 0o600 });
    await writeFile(join(dir, 'r'), 'bounded-read-token-0123456789abcdef\n', { mode: 0o600 });
    tokens = ['--write-token-file', join(dir, 'w'), '--read-token-file', join(dir, 'r')];
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `vault` as a child: the launcher, whose output says when the bounded vault listens. */
  const startVault = async () => {
    const child = spawn(
      process.execPath,
      [...CLI_SPAWN_ARGS, 'vault', '--data-dir', join(dir, 'data'), '--port', '0', ...tokens],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: '' } },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    await waitFor(() => output.includes('vault listening on'), { what: 'the vault to listen' });
    const [, bounded] = processTree(child.pid ?? -1);
    return { child, exited, bounded: bounded! };
  };

  it('runs the command in a bounded child and passes SIGTERM on: graceful stop, exit 0', async () => {
    const vault = await startVault();
    const commandLine = readFileSync(`/proc/${vault.bounded}/cmdline`, 'utf8').split('\0');
    expect(commandLine).toContain(`--max-old-space-size=${DEFAULT_MAX_HEAP_MB}`);

    vault.child.kill('SIGTERM');
    expect(await vault.exited).toEqual({ code: 0, signal: null });
    expect(processRunning(vault.bounded)).toBe(false);
  });

  it('ends the bounded child when the launcher is killed with SIGKILL', async () => {
    const vault = await startVault();
    vault.child.kill('SIGKILL');
    expect((await vault.exited).signal).toBe('SIGKILL');
    await waitFor(() => !processRunning(vault.bounded), {
      timeoutMs: 5000,
      what: 'the bounded vault to end with its launcher',
    });
  });

  it('stops the bounded child with the launcher on SIGTSTP (Ctrl-Z) and resumes it on SIGCONT', async () => {
    const vault = await startVault();
    const state = (pid: number) =>
      /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    vault.child.kill('SIGTSTP');
    await waitFor(() => state(vault.bounded) === 'T' && state(vault.child.pid!) === 'T', {
      what: 'the launcher and the bounded vault to stop',
    });
    vault.child.kill('SIGCONT');
    await waitFor(() => state(vault.bounded) !== 'T' && state(vault.child.pid!) !== 'T', {
      what: 'the launcher and the bounded vault to go on',
    });
    vault.child.kill('SIGTERM');
    expect(await vault.exited).toEqual({ code: 0, signal: null });
  });

  it('ends the way the bounded child ended: killed by a signal', async () => {
    const vault = await startVault();
    process.kill(vault.bounded, 'SIGKILL');
    expect((await vault.exited).signal).toBe('SIGKILL');
  });

  it('refuses an invalid CRYPTO_REPLICATOR_MAX_HEAP_MB in one line, exit 2', async () => {
    const result = await runCli(['run'], { env: { CRYPTO_REPLICATOR_MAX_HEAP_MB: '12x' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: invalid CRYPTO_REPLICATOR_MAX_HEAP_MB "12x": /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
