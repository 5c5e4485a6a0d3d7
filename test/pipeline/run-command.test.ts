import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCapture } from '../../src/capture/index.js';
import { parseTableName, type TableName } from '../../src/change/change.js';
import { FileStore } from '../../src/store/file-store.js';
import { CLI_SPAWN_ARGS, runCli } from '../support/cli.js';
import { freePort, startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';
import {
  readStoredTransactions,
  replay,
  TEST_RECOVERY_PUB,
  tableRows,
  testIdentity,
} from './replication-support.js';
import { inTransaction, WORKLOAD_DDL, writeWorkload } from './workload.js';

const TABLES: TableName[] = [parseTableName('accounts'), parseTableName('"Audit Log"')];
const PASSWORD = 'test-only-db-password';
// Child processes start through tsx; on a machine shared by several suites that can take long.
const STARTUP_TIMEOUT_MS = 90_000;
const CHILD_TEST_TIMEOUT_MS = 240_000;

/** A `crypto-replicator run` child process and what it logged. */
interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

describe('crypto-replicator run', () => {
  let server: TestPostgres;
  let work: string;

  beforeAll(async () => {
    server = await startPostgres();
    work = await mkdtemp(join(tmpdir(), 'cr-run-'));
  });
  afterAll(async () => {
    await server?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  async function database(name: string, mode: 'logical' | 'outbox'): Promise<string> {
    await server.createDatabase(name);
    await server.query(WORKLOAD_DDL, [], name);
    const url = `postgresql://postgres:${PASSWORD}@127.0.0.1:${server.port}/${name}`;
    await installCapture({ mode, databaseUrl: url, tables: TABLES, slotName: `slot_${name}` });
    return url;
  }

  function start(args: string[]): Running {
    const child = spawn(process.execPath, [...CLI_SPAWN_ARGS, 'run', ...args], {
      env: { ...process.env, DEBUG: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    return { child, stderr: () => Buffer.concat(chunks).toString('utf8'), exited };
  }

  async function expectStoredMatchesSource(storeDir: string, name: string): Promise<void> {
    const identity = await testIdentity();
    await waitFor(
      async () => {
        const replayed = replay(await readStoredTransactions(new FileStore(storeDir), identity));
        for (const table of TABLES) {
          const expected = await tableRows(server, name, table, ['id']);
          expect(replayed.get(`"${table.schema}"."${table.name}"`) ?? new Map()).toEqual(expected);
        }
        return true;
      },
      { what: 'the stored stream to match the source', timeoutMs: STARTUP_TIMEOUT_MS },
    );
  }

  it('refuses to start without a recipient public key', async () => {
    const result = await runCli(
      ['run', '--database-url', 'postgresql://x@127.0.0.1/db', '--store', work],
      {
        env: { RSA_PUBLIC_KEY_PATH: '' },
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: missing recipient: refusing to seal for nobody\nhint: /);
  });

  it('rejects an invalid setting, naming it and what was expected', async () => {
    const result = await runCli([
      'run',
      '--database-url',
      'postgresql://x@127.0.0.1/db',
      '--store',
      work,
      '--recipient',
      TEST_RECOVERY_PUB,
      '--flush-interval',
      '5x',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: invalid --flush-interval "5x": expected whole milliseconds between 1 and 600000',
    );
    expect(result.stderr).not.toContain('    at ');
  });

  it(
    'stops on SIGTERM with exit 0 after storing and acknowledging everything, serving metrics meanwhile',
    async () => {
      const url = await database('sigterm', 'logical');
      const storeDir = join(work, 'store-sigterm');
      const stateDir = join(work, 'state-sigterm');
      const port = await freePort();
      const running = start([
        ...['--database-url', url, '--mode', 'logical', '--slot', 'slot_sigterm'],
        ...['--store', storeDir, '--recipient', TEST_RECOVERY_PUB, '--state-dir', stateDir],
        ...[
          '--flush-interval',
          '100',
          '--metrics-port',
          String(port),
          '--metrics-host',
          '127.0.0.1',
        ],
      ]);
      try {
        await waitFor(
          () =>
            running.stderr().includes('"replicator starting"') &&
            fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok),
          { what: 'the replicator to be ready', timeoutMs: STARTUP_TIMEOUT_MS },
        );
        await writeWorkload(url);
        await expectStoredMatchesSource(storeDir, 'sigterm');

        // The metrics endpoint names what was captured and stored.
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/crypto_replicator_changes_captured_total [1-9]/);
        expect(metrics).toMatch(/crypto_replicator_segments_stored_total [1-9]/);
        expect(metrics).toMatch(/crypto_replicator_last_acknowledged_position [1-9]/);
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

        running.child.kill('SIGTERM');
        expect(await running.exited).toBe(0);
      } finally {
        running.child.kill('SIGKILL');
      }

      // The slot was told everything stored; logs hold no password and no row data.
      const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
      const [slot] = await server.query<{ lsn: string }>(
        "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'slot_sigterm'",
      );
      expect(BigInt(`0x${slot!.lsn.replace('/', '')}`)).toBeGreaterThanOrEqual(
        BigInt(`0x${state.lastAcknowledgedPosition.replace('/', '')}`),
      );
      const logs = running.stderr();
      expect(logs).toContain('"segment stored"');
      expect(logs).toContain('"replicator stopped"');
      expect(logs).not.toContain(PASSWORD);
      expect(logs).not.toContain('owner 1 ✓');
    },
    CHILD_TEST_TIMEOUT_MS,
  );

  it.each(['logical', 'outbox'] as const)(
    'resumes after SIGKILL with nothing lost (%s)',
    async (mode) => {
      const name = `sigkill_${mode}`;
      const url = await database(name, mode);
      const storeDir = join(work, `store-${name}`);
      const stateDir = join(work, `state-${name}`);
      const args = [
        ...['--database-url', url, '--mode', mode, '--slot', `slot_${name}`],
        ...['--store', storeDir, '--recipient', TEST_RECOVERY_PUB, '--state-dir', stateDir],
        ...['--flush-interval', '50'],
      ];
      const first = start(args);
      try {
        await waitFor(() => first.stderr().includes('"stream created"'), {
          what: 'the first replicator to start',
          timeoutMs: STARTUP_TIMEOUT_MS,
        });

        // Kill it in the middle of a stream of writes.
        const writing = writeWorkload(url);
        await waitFor(() => first.stderr().includes('"position acknowledged"'), {
          what: 'a first ack',
          timeoutMs: STARTUP_TIMEOUT_MS,
        });
        first.child.kill('SIGKILL');
        await first.exited;
        await writing;
      } finally {
        first.child.kill('SIGKILL');
      }
      await inTransaction(url, [
        "INSERT INTO accounts (id, owner) VALUES (99999, 'after the kill')",
      ]);

      // A new process takes over the stale lock and stores the rest.
      const second = start(args);
      try {
        await expectStoredMatchesSource(storeDir, name);
        second.child.kill('SIGTERM');
        expect(await second.exited).toBe(0);
      } finally {
        second.child.kill('SIGKILL');
      }
    },
    CHILD_TEST_TIMEOUT_MS,
  );
});
