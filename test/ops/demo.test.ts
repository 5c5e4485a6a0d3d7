import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_SPAWN_ARGS, runCli } from '../support/cli.js';
import { startPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

/** Pids of PostgreSQL processes whose command line or data folder lies under `dir`. */
function postgresProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.includes('postgres') && command.includes(dir)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Start the demo from source as a separate process, collecting its output. */
function startDemo(args: string[]): {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
} {
  const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, 'demo', ...args], {
    env: { ...process.env, DATABASE_URL: '', DEBUG: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { child, output: () => text };
}

/** Fail fast with the demo's output when it ended before the awaited step. */
function ended(demo: ReturnType<typeof startDemo>): boolean {
  if (demo.child.exitCode === null) return false;
  throw new Error(`demo exited early (${demo.child.exitCode}):\n${demo.output()}`);
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

// The demo's machine needs about a minute; a loaded CI machine may need more.
const scratch = await mkdtemp(join(tmpdir(), 'cr-ops-demo-'));
// The embedded server runs as the postgres user when tests run as root: it must reach --dir.
await chmod(scratch, 0o755);

afterAll(async () => {
  // A failed test may leave a demo server running under the scratch folder: stop it by pid.
  for (const pid of postgresProcessesUnder(scratch)) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // Already gone.
    }
  }
  await rm(scratch, { recursive: true, force: true });
});

describe('crypto-replicator demo', () => {
  it('replicates via the vault, finds nothing readable, restores, and digests match', async () => {
    // The folder store without the vault is the path of the SIGKILL and DATABASE_URL tests.
    const result = await runCli(['demo', '--vault', '--rows', '300'], {
      env: { DATABASE_URL: '' },
    });

    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.code).toBe(0);
    // Non-TTY output: plain progress lines, no terminal control sequences.
    expect(result.stdout).not.toContain('\u001b[');
    // No progress line counts past its total (the restore also applies the snapshot's changes).
    const progress = [...result.stdout.matchAll(/^ {2}\w+: ([\d,]+) of ([\d,]+)$/gm)];
    expect(progress.length).toBeGreaterThan(0);
    for (const [, done, total] of progress) {
      expect(Number(done!.replaceAll(',', ''))).toBeLessThanOrEqual(
        Number(total!.replaceAll(',', '')),
      );
    }
    expect(result.stdout).toMatch(
      /replicated {2}510 changes \(300 inserts, 150 updates, 60 deletes/,
    );
    expect(result.stdout).toMatch(
      /stored {6}\d+ sealed segments .* in vault http:\/\/127\.0\.0\.1:/,
    );
    expect(result.stdout).toMatch(/unreadable {2}searched all .* found nothing/);
    expect(result.stdout).toMatch(/verified {4}intact/);
    expect(result.stdout).toMatch(
      /compared .*nis2_audit_log.*: 240 rows on both sides, digests match/,
    );

    // The temporary folder is gone and its server with it.
    const dir = /demo folder: (\S+)/.exec(result.stdout)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
    expect(postgresProcessesUnder(dir!)).toEqual([]);
  }, 180_000);

  it('stops the replicator and the embedded server on Ctrl-C (SIGINT) mid-run', async () => {
    const dir = join(scratch, 'interrupted');
    const demo = startDemo(['--dir', dir, '--rows', '200000']);
    const exited = exitOf(demo.child);

    // Interrupt while the workload is being written and replicated.
    await waitFor(() => demo.output().includes('[5/6] writing') || ended(demo), {
      timeoutMs: 120_000,
      what: 'the demo to start writing',
    });
    expect(postgresProcessesUnder(dir).length).toBeGreaterThan(0);
    demo.child.kill('SIGINT');

    const code = await exited;
    expect(code).toBe(130);
    expect(demo.output()).toContain('demo interrupted: everything it started is stopped');
    expect(postgresProcessesUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 180_000);

  it('stops the server a killed demo (SIGKILL) left running, when run again there', async () => {
    const dir = join(scratch, 'killed');
    const demo = startDemo(['--dir', dir, '--rows', '200000']);
    const exited = exitOf(demo.child);
    await waitFor(() => demo.output().includes('[4/6] replicator running') || ended(demo), {
      timeoutMs: 120_000,
      what: 'the demo to start the replicator',
    });

    // SIGKILL runs no handler: the server outlives the demo, as it would after `kill -9`.
    demo.child.kill('SIGKILL');
    await exited;
    const leftOver = postgresProcessesUnder(dir);
    expect(leftOver.length).toBeGreaterThan(0);

    // The next run in the same folder stops it, starts afresh (new keys) and cleans up.
    const again = await runCli(['demo', '--dir', dir, '--rows', '100'], {
      env: { DATABASE_URL: '' },
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('digests match');
    for (const pid of leftOver) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(postgresProcessesUnder(dir)).toEqual([]);
  }, 240_000);

  it('uses the server in DATABASE_URL, no embedded one, and drops what it created', async () => {
    const server = await startPostgres();
    try {
      const result = await runCli(['demo', '--rows', '100'], {
        env: { DATABASE_URL: server.url() },
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/databases: cr_demo_\w+_source and cr_demo_\w+_restored on/);
      expect(result.stdout).not.toContain('embedded PostgreSQL');
      expect(result.stdout).toContain('digests match');

      // Its two databases and the replication slot are gone.
      const databases = await server.query<{ datname: string }>('SELECT datname FROM pg_database');
      expect(databases.map((d) => d.datname).filter((n) => n.startsWith('cr_demo_'))).toEqual([]);
      expect(await server.query('SELECT slot_name FROM pg_replication_slots')).toEqual([]);
    } finally {
      await server.destroy();
    }
  }, 180_000);

  it('refuses a --dir that holds files it did not make, and deletes none of them', async () => {
    const dir = join(scratch, 'not-a-demo');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'precious.txt'), 'keep me');

    const result = await runCli(['demo', '--dir', dir], { env: { DATABASE_URL: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `error: prepare demo folder "${dir}": not empty and not a demo folder`,
    );
    expect(result.stderr).toContain('hint: ');
    expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me');
  });

  it('rejects an invalid --rows value with a usage error', async () => {
    const result = await runCli(['demo', '--rows', 'many'], { env: { DATABASE_URL: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: invalid --rows "many": expected a whole number');
  });
});
