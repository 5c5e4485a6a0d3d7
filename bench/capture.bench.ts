import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { CaptureMode } from '../src/capture/capture-source.js';
import { createCaptureSource, installCapture } from '../src/capture/index.js';
import { CAPTURE_SCHEMA, INSERT_TRIGGER } from '../src/capture/install-sql.js';
import { parseTableName } from '../src/change/change.js';
import { loadRecipient } from '../src/keys/index.js';
import { ReplicatorMetrics } from '../src/observability/metrics.js';
import { Replicator } from '../src/pipeline/replicator.js';
import { FileStore } from '../src/store/file-store.js';
import { CLI_SPAWN_ARGS } from '../test/support/cli.js';
import { TreePeak } from '../test/support/faults/peak-rss.js';
import buildIfStale from '../test/support/global-setup.js';
import { freePort, startPostgres, type TestPostgres } from '../test/support/postgres.js';
import { pipelineCeiling } from './pipeline-ceiling.js';
import type { BenchReport } from './report.js';

const execFileAsync = promisify(execFile);
const GROUP = 'capture';
const RECOVERY_PUB = new URL('../test/fixtures/keys/TEST-ONLY-recovery-3072.pub', import.meta.url)
  .pathname;
/** Rows in the backlog the replicator and pg_recvlogical drain (the issue's target: 1,000,000). */
const BACKLOG_ROWS = Number(process.env.BENCH_CAPTURE_ROWS ?? 1_000_000);
/** Rows written per capture mode for the write-rate comparison. */
const WRITE_ROWS = Number(process.env.BENCH_WRITE_ROWS ?? 60_000);
/** Rounds of the write-rate comparison, modes interleaved; each mode's best round counts. */
const WRITE_ROUNDS = Number(process.env.BENCH_WRITE_ROUNDS ?? 4);
/** Statements timed with EXPLAIN ANALYZE per outbox variant (the trigger-time figures). */
const EXPLAIN_STATEMENTS = Number(process.env.BENCH_EXPLAIN_STATEMENTS ?? 500);
/** Seconds of steady 1,000 rows/s for the latency figure. */
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const FLUSH_INTERVAL_MS = 250;
const TABLE = parseTableName('bench');
const DDL = 'CREATE TABLE bench (id bigint PRIMARY KEY, payload text, n int, at timestamptz)';

/**
 * `npm run bench -- capture`: write rate with each capture mode installed against none; the
 * replicator draining a backlog against pg_recvlogical draining the same changes; commit→stored
 * latency at 1,000 rows/s; the replicator's peak RSS. BENCH_CAPTURE_ROWS=100000 for a quick run.
 */
export async function run(report: BenchReport): Promise<void> {
  // Durable commits, as in production: the figures would flatter triggers otherwise.
  const server = await startPostgres({
    settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
  });
  const work = await mkdtemp(join(tmpdir(), 'cr-bench-capture-'));
  try {
    // BENCH_CAPTURE_PARTS=backlog,latency runs only some of the figures (writes,backlog,latency,lag).
    const parts = (process.env.BENCH_CAPTURE_PARTS ?? 'writes,backlog,latency,lag').split(',');
    if (parts.includes('writes')) await writeRates(server, report);
    if (parts.includes('backlog')) await backlogDrain(server, work, report);
    if (parts.includes('latency')) await latency(server, work, report);
    if (parts.includes('lag')) await lagUnderLoad(server, work, report);
  } finally {
    await server.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Outbox floors: the outbox's INSERT trigger function replaced by a part of what it must do,
 * measured beside the real modes in the same rounds, to show where a trigger-based outbox's
 * write cost goes on this workload. Each step adds to the one before; none captures anything
 * usable.
 */
const OUTBOX_FLOORS = {
  // The statement trigger fires with its transition table and does nothing.
  'outbox floor: trigger only': '',
  // It writes one outbox row per statement, with no row data in it.
  'outbox floor: empty outbox row': `INSERT INTO ${CAPTURE_SCHEMA}.outbox (table_schema, table_name, op)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'i');`,
  // It also reads the statement's rows into an array of the table's own row type: the least a
  // trigger must do to carry them (such an array cannot be stored; see docs/BENCHMARKS.md).
  'outbox floor: rows read, not converted': `PERFORM array_agg(x) FROM crypto_replicator_new x;
    INSERT INTO ${CAPTURE_SCHEMA}.outbox (table_schema, table_name, op)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'i');`,
  // It converts them as the outbox does (hstore), still without storing them.
  'outbox floor: rows converted, not stored': `PERFORM array_agg(${CAPTURE_SCHEMA}.hstore(x.*))
    FROM crypto_replicator_new x;
    INSERT INTO ${CAPTURE_SCHEMA}.outbox (table_schema, table_name, op)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'i');`,
} as const;
type WriteMode = 'none' | 'notify' | 'outbox' | 'logical' | keyof typeof OUTBOX_FLOORS;

/**
 * Two clients insert WRITE_ROWS rows, 10 per transaction; rows/s, best of WRITE_ROUNDS rounds.
 * Beside the rate, the CPU time the two server backends spent per row (median of the rounds):
 * less disturbed by other work on a shared machine than the rate.
 */
async function writeRates(server: TestPostgres, report: BenchReport): Promise<void> {
  const floors = Object.keys(OUTBOX_FLOORS) as (keyof typeof OUTBOX_FLOORS)[];
  const modes: WriteMode[] = ['none', 'notify', 'outbox', 'logical', ...floors];
  const best = new Map<WriteMode, number>();
  const cpu = new Map<WriteMode, number[]>();
  for (const [index, mode] of modes.entries()) {
    const database = `write_${index}`;
    const url = await server.createDatabase(database);
    await server.query(DDL, [], database);
    if (mode === 'none') continue;
    const floor = mode in OUTBOX_FLOORS ? OUTBOX_FLOORS[mode as keyof typeof OUTBOX_FLOORS] : null;
    // Logical mode's install creates a slot: one name per database (a name is server-wide).
    await installCapture({
      mode: floor === null ? (mode as CaptureMode) : 'outbox',
      databaseUrl: url,
      tables: [TABLE],
      slotName: 'bench_write',
    });
    if (floor !== null) {
      await server.query(
        `CREATE OR REPLACE FUNCTION ${CAPTURE_SCHEMA}.capture_insert() RETURNS trigger
           LANGUAGE plpgsql AS $fn$ BEGIN ${floor} RETURN NULL; END $fn$`,
        [],
        database,
      );
    }
  }
  for (let round = 0; round < WRITE_ROUNDS; round++) {
    // Each round starts with another mode, so that none always runs right after the baseline.
    for (let k = 0; k < modes.length; k++) {
      const index = (round + k) % modes.length;
      const mode = modes[index]!;
      const measured = await insertRate(server.url(`write_${index}`), round * WRITE_ROWS);
      best.set(mode, Math.max(best.get(mode) ?? 0, measured.rate));
      cpu.set(mode, [...(cpu.get(mode) ?? []), measured.cpuMicrosPerRow]);
    }
  }
  const baseline = { name: 'no capture', value: best.get('none')! };
  report.add({
    group: GROUP,
    name: 'source writes, no capture',
    value: baseline.value,
    unit: 'rows/s',
  });
  const targets: Partial<Record<WriteMode, string>> = {
    logical: '>= 0.95x',
    outbox: '>= 0.9x',
    notify: 'as is',
  };
  for (const mode of ['logical', 'outbox', 'notify', ...floors] as const) {
    report.add({
      group: GROUP,
      name: mode in OUTBOX_FLOORS ? `source writes, ${mode}` : `source writes, ${mode} installed`,
      value: best.get(mode)!,
      unit: 'rows/s',
      baseline,
      target: targets[mode],
    });
  }
  // The outbox trigger's own time per statement, timed by the server: far steadier than rates.
  const timed: WriteMode[] = ['none', 'outbox', ...floors];
  let offset = WRITE_ROUNDS * WRITE_ROWS;
  const timeAll = async (shape: StatementShape, modesTimed: WriteMode[]) => {
    const times = new Map<WriteMode, { execution: number; trigger: number }>();
    for (const mode of modesTimed) {
      times.set(
        mode,
        await statementTimes(server.url(`write_${modes.indexOf(mode)}`), offset, shape),
      );
    }
    offset += EXPLAIN_STATEMENTS * shape.rows;
    return times;
  };
  const addTimes = (
    shape: StatementShape,
    times: Map<WriteMode, { execution: number; trigger: number }>,
  ) => {
    const what = `${shape.rows}-row INSERT${shape.payloadBytes > 0 ? ` of ${shape.payloadBytes}-byte rows` : ''}`;
    const statement = { name: 'the statement, no capture', value: times.get('none')!.execution };
    report.add({
      group: GROUP,
      name: `one ${what}, no capture (server execution time, median)`,
      value: statement.value,
      unit: 'µs',
    });
    for (const mode of [...times.keys()].filter((m) => m !== 'none')) {
      report.add({
        group: GROUP,
        name: `insert trigger per ${what}, ${mode === 'outbox' ? 'outbox installed' : mode} (median)`,
        value: times.get(mode)!.trigger,
        unit: 'µs',
        baseline: statement,
      });
    }
  };
  addTimes(TEN_SMALL_ROWS, await timeAll(TEN_SMALL_ROWS, timed));
  // How the trigger's cost scales with statement and row size: its fixed part (one outbox row per
  // statement) weighs less on larger statements, its conversion grows with the bytes it carries.
  for (const shape of OTHER_SHAPES) addTimes(shape, await timeAll(shape, ['none', 'outbox']));

  const cpuBaseline = { name: 'no capture', value: median(cpu.get('none')!) };
  for (const mode of modes) {
    const label =
      mode === 'none' ? 'no capture' : mode in OUTBOX_FLOORS ? mode : `${mode} installed`;
    report.add({
      group: GROUP,
      name: `source backend CPU per row written, ${label}`,
      value: median(cpu.get(mode)!),
      unit: 'µs',
      baseline: mode === 'none' ? undefined : cpuBaseline,
    });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** CPU time a server backend has run, in µs (/proc/PID/schedstat; NaN where unreadable). */
async function backendCpuMicros(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/schedstat`, 'utf8');
    return Number(text.split(' ')[0]) / 1000;
  } catch {
    return Number.NaN;
  }
}

/** A statement timed by statementTimes: rows per INSERT; payloadBytes 0 for the bench's short text. */
type StatementShape = { rows: number; payloadBytes: number };
const TEN_SMALL_ROWS: StatementShape = { rows: 10, payloadBytes: 0 };
const OTHER_SHAPES: StatementShape[] = [
  { rows: 1, payloadBytes: 0 },
  { rows: 100, payloadBytes: 0 },
  // Below the TOAST threshold (about 2 kB), so the row is stored as written.
  { rows: 10, payloadBytes: 1000 },
];

/**
 * One client runs EXPLAIN_STATEMENTS INSERTs of the given shape under EXPLAIN ANALYZE and returns the
 * medians of the server's execution time and of the time spent in the insert statement trigger,
 * in µs (EXPLAIN reports a trigger's time only with node timing on, which adds a little to the
 * execution time). The first tenth warms caches and is dropped.
 */
async function statementTimes(
  url: string,
  offset: number,
  shape: StatementShape,
): Promise<{ execution: number; trigger: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const execution: number[] = [];
  const trigger: number[] = [];
  try {
    for (let i = 0; i < EXPLAIN_STATEMENTS; i++) {
      const first = offset + i * shape.rows;
      const values = Array.from({ length: shape.rows }, (_, k) => {
        const payload =
          shape.payloadBytes > 0
            ? String(first + k).padEnd(shape.payloadBytes, 'x')
            : `payload ${first + k}`;
        return `(${first + k}, '${payload}', ${k}, now())`;
      });
      const result = await client.query<{ 'QUERY PLAN': ExplainOutput }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO bench VALUES ${values.join(',')}`,
      );
      if (i < EXPLAIN_STATEMENTS / 10) continue;
      const plan = result.rows[0]!['QUERY PLAN'][0]!;
      execution.push(plan['Execution Time'] * 1000);
      const fired = (plan.Triggers ?? []).filter((t) => t['Trigger Name'] === INSERT_TRIGGER);
      trigger.push(fired.reduce((sum, t) => sum + t.Time, 0) * 1000);
    }
  } finally {
    await client.end();
  }
  return { execution: median(execution), trigger: median(trigger) };
}

/** The part of EXPLAIN (FORMAT JSON) output read here. */
type ExplainOutput = {
  'Execution Time': number;
  Triggers?: { 'Trigger Name': string; Time: number }[];
}[];

async function insertRate(
  url: string,
  offset: number,
): Promise<{ rate: number; cpuMicrosPerRow: number }> {
  const perClient = WRITE_ROWS / 2;
  let cpuMicros = 0;
  const started = performance.now();
  await Promise.all(
    [0, 1].map(async (clientIndex) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      const before = await backendCpuMicros(pid);
      try {
        for (let i = 0; i < perClient; i += 10) {
          const first = offset + clientIndex * perClient + i;
          const values = Array.from(
            { length: 10 },
            (_, k) => `(${first + k}, 'payload ${first + k}', ${k}, now())`,
          );
          await client.query(`INSERT INTO bench VALUES ${values.join(',')}`);
        }
        cpuMicros += (await backendCpuMicros(pid)) - before;
      } finally {
        await client.end();
      }
    }),
  );
  const rate = WRITE_ROWS / ((performance.now() - started) / 1000);
  return { rate, cpuMicrosPerRow: cpuMicros / WRITE_ROWS };
}

/** The same backlog drained by pg_recvlogical (to /dev/null) and by the replicator (to a folder). */
async function backlogDrain(
  server: TestPostgres,
  work: string,
  report: BenchReport,
): Promise<void> {
  const url = await server.createDatabase('backlog');
  await server.query(DDL, [], 'backlog');
  const slot = 'bench_backlog';
  await installCapture({ mode: 'logical', databaseUrl: url, tables: [TABLE], slotName: slot });
  const storeDir = join(work, 'store');
  const stateDir = join(work, 'state');
  const args = [
    ...['--database-url', url, '--mode', 'logical', '--slot', slot, '--no-snapshot'],
    ...['--store', storeDir],
    ...['--recipient', RECOVERY_PUB, '--state-dir', stateDir, '--log-level', 'warn'],
    ...['--flush-interval', String(FLUSH_INTERVAL_MS)],
  ];

  // Create the replicator's slot (first start), and one for pg_recvlogical, before the backlog.
  const first = await startReplicator(args);
  await stopChild(first.child);
  await server.query(
    "SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')",
    [],
    'backlog',
  );
  process.stderr.write(`  writing a backlog of ${BACKLOG_ROWS} rows…\n`);
  await writeBacklog(server, 'backlog');
  const [{ lsn }] = (await server.query<{ lsn: string }>(
    'SELECT pg_current_wal_insert_lsn()::text AS lsn',
  )) as [{ lsn: string }];

  // Ceiling: PostgreSQL's own client decoding the same changes with the same plugin.
  const recvStarted = performance.now();
  await execFileAsync(join(server.binDir, 'pg_recvlogical'), [
    ...['-d', url, '--slot', 'bench_recv', '--start', '--no-loop', '-f', '/dev/null'],
    ...['--endpos', lsn, '-o', 'proto_version=1', '-o', 'publication_names=crypto_replicator'],
  ]);
  const recvRate = BACKLOG_ROWS / ((performance.now() - recvStarted) / 1000);

  // The replicator, from its start to the last change durably stored.
  const second = await startReplicator(args);
  const started = performance.now();
  await waitForMetric(second.port, 'crypto_replicator_changes_stored_total', BACKLOG_ROWS);
  const rate = BACKLOG_ROWS / ((performance.now() - started) / 1000);
  // The CLI is a launcher and the bounded replicator it starts: the figure sums both peaks.
  const peakKiB = (await new TreePeak(second.child.pid ?? -1).sample()) / 1024;
  await stopChild(second.child);
  const ceiling = await pipelineCeiling({
    rows: Math.min(BACKLOG_ROWS, 300_000),
    recipient: await loadRecipient(RECOVERY_PUB),
    work,
  });

  const baseline = { name: 'pg_recvlogical', value: recvRate };
  const backlog = `backlog of ${BACKLOG_ROWS.toLocaleString('en-US')} rows`;
  report.add({
    group: GROUP,
    name: `pg_recvlogical drain, ${backlog}`,
    value: recvRate,
    unit: 'rows/s',
  });
  report.add({
    group: GROUP,
    name: `replicator drain to folder store, ${backlog}`,
    value: rate,
    unit: 'rows/s',
    baseline,
    target: '>= 0.8x',
  });
  report.add({
    group: GROUP,
    name: 'pipeline alone (synthetic changes, no PostgreSQL), to folder store',
    value: ceiling,
    unit: 'rows/s',
    baseline,
  });
  report.add({
    group: GROUP,
    name: `replicator peak RSS (VmHWM), ${backlog}`,
    value: peakKiB / 1024,
    unit: 'MiB',
    target: '<= 256 MiB',
  });

  // The same backlog left in an outbox by its triggers, drained by the replicator in outbox mode:
  // as inserted (chunk rows of many changes each) and as updated (one outbox row per change).
  // BENCH_OUTBOX_DRAIN=0 leaves them out (about a minute of writing backlogs).
  const outboxKinds = process.env.BENCH_OUTBOX_DRAIN === '0' ? [] : (['insert', 'update'] as const);
  for (const kind of outboxKinds) {
    const outbox = await outboxDrain(server, work, kind);
    const what = `outbox mode, ${backlog} ${kind === 'insert' ? 'inserted' : 'updated'}`;
    report.add({
      group: GROUP,
      name: `replicator drain to folder store, ${what}`,
      value: outbox.rate,
      unit: 'rows/s',
      baseline,
    });
    report.add({
      group: GROUP,
      name: `replicator peak RSS (VmHWM), ${what}`,
      value: outbox.peakKiB / 1024,
      unit: 'MiB',
      target: '<= 256 MiB',
    });
  }
}

/** BACKLOG_ROWS rows of about 90 bytes into `bench`, 10,000 per transaction. */
async function writeBacklog(server: TestPostgres, database: string): Promise<void> {
  for (let from = 1; from <= BACKLOG_ROWS; from += 10_000) {
    const to = Math.min(BACKLOG_ROWS, from + 9_999);
    await server.query(
      `INSERT INTO bench SELECT g, md5(g::text) || ' payload', g % 1000, now()
         FROM generate_series(${from}, ${to}) g`,
      [],
      database,
    );
  }
}

/**
 * Outbox mode on the same backlog, left in the outbox with no replicator running: the rows
 * inserted with the outbox's triggers installed, or inserted before and then each updated once
 * (10,000 per statement). Drained by `crypto-replicator run --mode outbox` from its start to the
 * last change durably stored.
 */
async function outboxDrain(
  server: TestPostgres,
  work: string,
  kind: 'insert' | 'update',
): Promise<{ rate: number; peakKiB: number }> {
  const database = `backlog_outbox_${kind}`;
  const url = await server.createDatabase(database);
  await server.query(DDL, [], database);
  process.stderr.write(`  writing a backlog of ${BACKLOG_ROWS} rows into an outbox (${kind})…\n`);
  if (kind === 'update') await writeBacklog(server, database);
  await installCapture({ mode: 'outbox', databaseUrl: url, tables: [TABLE] });
  if (kind === 'insert') {
    await writeBacklog(server, database);
  } else {
    for (let from = 1; from <= BACKLOG_ROWS; from += 10_000) {
      await server.query(
        'UPDATE bench SET n = n + 1 WHERE id BETWEEN $1 AND $2',
        [from, from + 9_999],
        database,
      );
    }
  }
  const replicator = await startReplicator([
    ...['--database-url', url, '--mode', 'outbox', '--no-snapshot'],
    ...['--store', join(work, `store-${database}`), '--state-dir', join(work, `state-${database}`)],
    ...['--recipient', RECOVERY_PUB, '--log-level', 'warn'],
    ...['--flush-interval', String(FLUSH_INTERVAL_MS)],
  ]);
  const started = performance.now();
  await waitForMetric(replicator.port, 'crypto_replicator_changes_stored_total', BACKLOG_ROWS);
  const rate = BACKLOG_ROWS / ((performance.now() - started) / 1000);
  const peakKiB = (await new TreePeak(replicator.child.pid ?? -1).sample()) / 1024;
  await stopChild(replicator.child);
  return { rate, peakKiB };
}

/** Commit→stored latency at a steady 1,000 rows/s (100 transactions of 10 rows per second). */
async function latency(server: TestPostgres, work: string, report: BenchReport): Promise<void> {
  const url = await server.createDatabase('latency');
  await server.query(DDL, [], 'latency');
  const slotName = 'bench_latency';
  await installCapture({ mode: 'logical', databaseUrl: url, tables: [TABLE], slotName });
  const metrics = new ReplicatorMetrics();
  const samples: number[] = [];
  const observe = metrics.commitToStoredSeconds.observe.bind(metrics.commitToStoredSeconds);
  metrics.commitToStoredSeconds.observe = ((value: number) => {
    samples.push(value);
    observe(value);
  }) as typeof observe;
  const replicator = new Replicator({
    source: createCaptureSource({
      mode: 'logical',
      databaseUrl: url,
      tables: [TABLE],
      slotName,
      snapshot: false,
    }),
    store: new FileStore(join(work, 'store-latency')),
    recipients: [await loadRecipient(RECOVERY_PUB)],
    stateDir: join(work, 'state-latency'),
    flushIntervalMs: FLUSH_INTERVAL_MS,
    metrics,
  });
  await replicator.start();

  // Pace 100 transactions per second against the clock; drop the first second as warm-up.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  for (let tick = 0; tick < LATENCY_SECONDS * 100; tick++) {
    const due = started + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (tick === 100) samples.length = 0;
    const values = Array.from(
      { length: 10 },
      (_, k) => `(${tick * 10 + k}, 'steady', ${k}, now())`,
    );
    await client.query(`INSERT INTO bench VALUES ${values.join(',')}`);
  }
  await client.end();
  const expected = (LATENCY_SECONDS - 1) * 100;
  while (samples.length < expected) await new Promise((resolve) => setTimeout(resolve, 50));
  await replicator.stop();

  const sorted = samples.map((s) => s * 1000).sort((a, b) => a - b);
  const quantile = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const name = `commit→stored latency at 1,000 rows/s, flush ${FLUSH_INTERVAL_MS} ms`;
  report.add({ group: GROUP, name: `${name}, p50`, value: quantile(0.5), unit: 'ms' });
  report.add({
    group: GROUP,
    name: `${name}, p99`,
    value: quantile(0.99),
    unit: 'ms',
    target: `<= ${FLUSH_INTERVAL_MS + 250} ms`,
  });
}

interface ChildReplicator {
  child: ChildProcess;
  port: number;
}

/** Start `crypto-replicator run` with a metrics port; resolves once /metrics answers. */
async function startReplicator(args: string[]): Promise<ChildReplicator> {
  buildIfStale();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      // BENCH_REPLICATOR_NODE_ARGS: extra node flags for the replicator, e.g. --cpu-prof.
      ...(process.env.BENCH_REPLICATOR_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
      // The built CLI, as users run it (tsx in both the launcher and the replicator would add
      // tens of MiB to the peak RSS); rebuilt first when a source file is newer.
      ...CLI_SPAWN_ARGS,
      'run',
      ...args,
      ...['--metrics-port', String(port), '--metrics-host', '127.0.0.1'],
    ],
    {
      stdio: ['ignore', process.env.BENCH_TRACE === '1' ? 'inherit' : 'ignore', 'inherit'],
      env: { ...process.env, DEBUG: '' },
    },
  );
  await waitForMetric(port, 'crypto_replicator_capture_connected', 1);
  return { child, port };
}

async function waitForMetric(port: number, name: string, atLeast: number): Promise<void> {
  const pattern = new RegExp(`^${name} (\\S+)$`, 'm');
  for (;;) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const value = Number(pattern.exec(text)?.[1] ?? Number.NaN);
      if (value >= atLeast) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Lag while the source writes as fast as it can (two clients, 10 rows per transaction) for
 * BENCH_LAG_SECONDS (default 20): the most WAL the slot held back and the most received-but-
 * unstored age, sampled every 250 ms; bounded means the last quarter's peak does not keep rising.
 */
async function lagUnderLoad(
  server: TestPostgres,
  work: string,
  report: BenchReport,
): Promise<void> {
  const seconds = Number(process.env.BENCH_LAG_SECONDS ?? 20);
  const url = await server.createDatabase('lag');
  await server.query(DDL, [], 'lag');
  await installCapture({
    mode: 'logical',
    databaseUrl: url,
    tables: [TABLE],
    slotName: 'bench_lag',
  });
  const replicator = new Replicator({
    source: createCaptureSource({
      mode: 'logical',
      databaseUrl: url,
      tables: [TABLE],
      slotName: 'bench_lag',
      snapshot: false,
    }),
    store: new FileStore(join(work, 'store-lag')),
    recipients: [await loadRecipient(RECOVERY_PUB)],
    stateDir: join(work, 'state-lag'),
    flushIntervalMs: FLUSH_INTERVAL_MS,
  });
  await replicator.start();

  // Write at full speed while sampling what waits.
  const samples: Array<{ bytes: number; unstored: number }> = [];
  const deadline = Date.now() + seconds * 1000;
  const sampler = setInterval(() => {
    const status = replicator.status();
    samples.push({ bytes: status.source?.backlog ?? 0, unstored: status.unstoredSeconds });
  }, 250);
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      while (Date.now() < deadline) {
        const first = next;
        next += 10;
        const values = Array.from({ length: 10 }, (_, k) => `(${first + k}, 'lag', ${k}, now())`);
        await client.query(`INSERT INTO bench VALUES ${values.join(',')}`);
      }
      await client.end();
    }),
  );
  clearInterval(sampler);
  await replicator.stop();

  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const peak = (list: typeof samples, key: 'bytes' | 'unstored') =>
    Math.max(0, ...list.map((sample) => sample[key]));
  report.add({
    group: GROUP,
    name: `rows written at full speed during the lag test (${seconds} s)`,
    value: next / seconds,
    unit: 'rows/s',
  });
  report.add({
    group: GROUP,
    name: 'oldest unstored change while writing at full speed, peak',
    value: peak(samples, 'unstored') * 1000,
    unit: 'ms',
  });
  report.add({
    group: GROUP,
    name: 'slot lag while writing at full speed, peak over the run',
    value: peak(samples, 'bytes') / 1024,
    unit: 'KiB',
  });
  report.add({
    group: GROUP,
    name: 'slot lag while writing at full speed, peak in the last quarter',
    value: peak(samples.slice(-quarter), 'bytes') / 1024,
    unit: 'KiB',
    target: 'bounded',
  });
}
