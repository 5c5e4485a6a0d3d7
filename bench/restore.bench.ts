import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ChangeRecord, SchemaRecord, Transaction } from '../src/change/change.js';
import { DEFAULT_MAX_HEAP_MB, MAX_SEMI_SPACE_MB } from '../src/cli/bounded-heap.js';
import { loadIdentity, loadRecipient, loadSigningKey, loadVerifyKey } from '../src/keys/index.js';
import { restore } from '../src/restore/restore.js';
import { DIGEST_SESSION_SQL, tableDigest } from '../src/restore/table-digest.js';
import { verifyStore } from '../src/restore/verify-store.js';
import { GENESIS_HASH, sealSegment, segmentName } from '../src/segment/index.js';
import { FileStore } from '../src/store/file-store.js';
import { startPostgres } from '../test/support/postgres.js';
import type { BenchReport } from './report.js';

const GROUP = 'restore';
/** Changes in the store (the target: 1,000,000); BENCH_RESTORE_CHANGES for quick runs. */
const CHANGES = Number(process.env.BENCH_RESTORE_CHANGES ?? 1_000_000);
/** Changes per sealed segment: about 3 MiB of plaintext, under the replicator's 4 MiB cut. */
const CHANGES_PER_SEGMENT = 20_000;
const CHANGES_PER_TRANSACTION = 50;
/** Rounds of COPY and restore taking turns (BENCH_RESTORE_ROUNDS); each keeps its fastest. */
const ROUNDS = Number(process.env.BENCH_RESTORE_ROUNDS ?? 3);
/** How often the restore's server backends are sampled for their CPU time. */
const BACKEND_POLL_MS = 100;
const STREAM = '5e'.repeat(16);
const TABLE = { schema: 'public', name: 'bench_rows' };
const SELF = fileURLToPath(import.meta.url);
const KEY = (name: string) =>
  fileURLToPath(new URL(`../test/fixtures/keys/${name}`, import.meta.url));
const KEYS = {
  identity: KEY('TEST-ONLY-recovery-3072.pem'),
  recipient: KEY('TEST-ONLY-recovery-3072.pub'),
  signing: KEY('TEST-ONLY-signing.pem'),
  verify: KEY('TEST-ONLY-signing.pub'),
};

const SCHEMA: SchemaRecord = {
  kind: 'schema',
  table: TABLE,
  columns: [
    { name: 'id', type: 'bigint', notNull: true },
    { name: 'owner', type: 'text', notNull: true },
    { name: 'amount', type: 'numeric(20,2)', notNull: false },
    { name: 'at', type: 'timestamp with time zone', notNull: false },
  ],
  primaryKey: ['id'],
};

/** Row `i` as PostgreSQL text, the same for the store and the COPY baseline. */
function row(i: number): [string, string, string, string] {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return [String(i), `owner ${i % 977}`, `${i}.${String(i % 100).padStart(2, '0')}`, at];
}

/**
 * `npm run bench -- restore`: restore rows/s of CHANGES inserts from a local folder store into a
 * fresh database (in a child process, for its peak RSS), against COPY of the same rows in the
 * same run; and verify's segments per second.
 */
export async function run(report: BenchReport): Promise<void> {
  const server = await startPostgres();
  const work = await mkdtemp(join(tmpdir(), 'cr-bench-restore-'));
  try {
    // The store: CHANGES inserts sealed as the replicator seals them.
    const storeDir = join(work, 'store');
    const segments = await writeStore(storeDir);
    process.stderr.write(`  store: ${CHANGES} changes in ${segments} segments\n`);

    // Rounds taking turns: COPY of the same rows into a fresh table (the baseline), then the
    // restore into a fresh database in a child process (its own peak RSS is the restore's).
    // Each keeps its fastest round, so that load from elsewhere skews the ratio less; each part
    // starts after a CHECKPOINT, so that neither pays for writing out the other's pages.
    let copy: CopyResult | undefined;
    let best: { child: ChildResult; backendCpu: number | undefined; target: string } | undefined;
    let peakRss = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await server.query('CHECKPOINT');
      const copied = await copyBaseline(await server.createDatabase(`copy_baseline_${round}`));
      if (copy === undefined || copied.seconds < copy.seconds) copy = copied;

      await server.query('CHECKPOINT');
      const database = `restored_${round}`;
      const target = await server.createDatabase(database);
      const backends = watchBackends(server, database);
      const child = await restoreInChild(storeDir, target);
      const backendCpu = await backends.stop();
      process.stderr.write(
        `  round ${round}: COPY ${copied.seconds.toFixed(2)} s, restore ${child.seconds.toFixed(2)} s\n`,
      );
      peakRss = Math.max(peakRss, child.maxRssMiB);
      if (best === undefined || child.seconds < best.child.seconds) {
        best = { child, backendCpu, target };
      }
    }
    const { child, backendCpu: restoreBackendCpu, target } = best!;
    const copyRate = CHANGES / copy!.seconds;
    report.add({
      group: GROUP,
      name: `COPY ${CHANGES} rows (baseline, fastest of ${ROUNDS} rounds)`,
      value: copyRate,
      unit: 'rows/s',
    });
    if (copy!.backendCpuSeconds !== undefined) {
      // PostgreSQL's own share of a load: the same work the restore's backend has to do.
      report.add({
        group: GROUP,
        name: 'COPY baseline: PostgreSQL backend CPU time',
        value: copy!.backendCpuSeconds,
        unit: 's',
        baseline: { name: 'wall', value: copy!.seconds },
      });
    }

    report.add({
      group: GROUP,
      name: `restore ${CHANGES} changes into a fresh database (segments opened ${child.opened}, fastest of ${ROUNDS} rounds)`,
      value: CHANGES / child.seconds,
      unit: 'rows/s',
      baseline: { name: 'COPY', value: copyRate },
      target: '>= 0.7x',
    });
    // Where the time goes: CPU seconds of the restore process (all its threads) per wall second.
    report.add({
      group: GROUP,
      name: 'restore CPU time, all threads (user + system)',
      value: child.cpuSeconds,
      unit: 's',
      baseline: { name: 'wall', value: child.seconds },
    });
    if (restoreBackendCpu !== undefined) {
      report.add({
        group: GROUP,
        name: 'restore: PostgreSQL backend CPU time',
        value: restoreBackendCpu,
        unit: 's',
        baseline: { name: 'COPY backend', value: copy!.backendCpuSeconds ?? Number.NaN },
      });
    }
    if (child.mainCpuSeconds !== undefined) {
      // The rest is the opening worker's (and a little of libuv's and the GC's helper threads).
      report.add({
        group: GROUP,
        name: 'restore CPU time, main thread (applying)',
        value: child.mainCpuSeconds,
        unit: 's',
        baseline: { name: 'wall', value: child.seconds },
      });
    }
    report.add({
      group: GROUP,
      name: `restore peak RSS (highest of ${ROUNDS} rounds)`,
      value: peakRss,
      unit: 'MiB',
      target: '<= 256 MiB',
    });

    // The drill report's digest of the restored table: rows per second of the full scan.
    const digestClient = new pg.Client({ connectionString: target });
    await digestClient.connect();
    await digestClient.query(DIGEST_SESSION_SQL);
    const digestStarted = performance.now();
    await tableDigest(digestClient, TABLE);
    const digestSeconds = (performance.now() - digestStarted) / 1000;
    await digestClient.end();
    report.add({
      group: GROUP,
      name: 'table digest for the drill report',
      value: CHANGES / digestSeconds,
      unit: 'rows/s',
    });

    // Verify: segments per second with the verify key.
    const verifyKey = await loadVerifyKey(KEYS.verify);
    const started = performance.now();
    const verified = await verifyStore({ store: new FileStore(storeDir), verifyKey });
    const verifySeconds = (performance.now() - started) / 1000;
    if (!verified.intact) throw new Error('bench store does not verify');
    report.add({
      group: GROUP,
      name: `verify ${verified.segmentsChecked} segments of ${CHANGES_PER_SEGMENT} changes`,
      value: verified.segmentsChecked / verifySeconds,
      unit: 'segments/s',
    });
  } finally {
    await server.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

async function writeStore(dir: string): Promise<number> {
  const store = new FileStore(dir);
  const recipient = await loadRecipient(KEYS.recipient);
  const signingKey = await loadSigningKey(KEYS.signing);
  let previousHash = GENESIS_HASH;
  let sequence = 0;
  let next = 1;
  while (next <= CHANGES) {
    // One segment of transactions of CHANGES_PER_TRANSACTION inserts each.
    const transactions: Transaction[] = [];
    const end = Math.min(CHANGES, next + CHANGES_PER_SEGMENT - 1);
    while (next <= end) {
      const records: Array<ChangeRecord | SchemaRecord> = next === 1 ? [SCHEMA] : [];
      const last = Math.min(end, next + CHANGES_PER_TRANSACTION - 1);
      for (let i = next; i <= last; i++) {
        const [id, owner, amount, at] = row(i);
        records.push({
          kind: 'change',
          table: TABLE,
          op: 'INSERT',
          new: { id, owner, amount, at },
        });
      }
      transactions.push({
        xid: String(last),
        commitTime: row(last)[3].replace('Z', '000Z'),
        position: String(last),
        records,
      });
      next = last + 1;
    }
    sequence++;
    const sealed = sealSegment({
      streamId: STREAM,
      sequence,
      previousHash,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    await store.put(segmentName(STREAM, sequence), sealed.bytes);
    previousHash = sealed.hash;
  }
  return sequence;
}

interface CopyResult {
  seconds: number;
  backendCpuSeconds: number | undefined;
}

async function copyBaseline(url: string): Promise<CopyResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    await client.query(
      'CREATE TABLE bench_rows (id bigint PRIMARY KEY, owner text NOT NULL, amount numeric(20,2), at timestamptz)',
    );
    const cpuBefore = await processCpuSeconds(pid);
    const started = performance.now();
    const lines = async function* () {
      for (let i = 1; i <= CHANGES; i += 10_000) {
        const chunk: string[] = [];
        for (let j = i; j < Math.min(CHANGES + 1, i + 10_000); j++)
          chunk.push(`${row(j).join('\t')}\n`);
        yield chunk.join('');
      }
    };
    await pipeline(Readable.from(lines()), client.query(copyFrom('COPY bench_rows FROM STDIN')));
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await processCpuSeconds(pid);
    const backendCpuSeconds =
      cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
    return { seconds, backendCpuSeconds };
  } finally {
    await client.end();
  }
}

/**
 * Follow the CPU time of the server backends connected to one database (polled from /proc,
 * so a backend that exits between polls loses at most its last interval); `stop` returns the
 * sum, or undefined when /proc cannot be read.
 */
function watchBackends(
  server: Awaited<ReturnType<typeof startPostgres>>,
  database: string,
): { stop: () => Promise<number | undefined> } {
  const latest = new Map<number, number>();
  let readable = true;
  const poll = async () => {
    const rows = await server.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    for (const { pid } of rows) {
      const seconds = await processCpuSeconds(pid);
      if (seconds === undefined) readable = false;
      else latest.set(pid, Math.max(seconds, latest.get(pid) ?? 0));
    }
  };
  let polling = Promise.resolve();
  const timer = setInterval(() => {
    polling = polling.then(poll).catch(() => {});
  }, BACKEND_POLL_MS);
  return {
    stop: async () => {
      clearInterval(timer);
      await polling;
      if (!readable || latest.size === 0) return undefined;
      return [...latest.values()].reduce((sum, seconds) => sum + seconds, 0);
    },
  };
}

/**
 * User + system CPU seconds of a local process (or of one of its threads) from /proc (Linux),
 * undefined elsewhere. NOTE: assumes the usual 100 clock ticks per second of /proc's stat.
 */
async function processCpuSeconds(pid: number, thread?: number): Promise<number | undefined> {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const stat = await readFile(path, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface ChildResult {
  seconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
  mainCpuSeconds?: number;
  /** Where segments were opened. */
  opened: string;
}

function restoreInChild(storeDir: string, url: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...profileFlags(), '--import', 'tsx', SELF, '--restore-child', storeDir, url],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`restore child exited with ${code}`));
        return;
      }
      // The figures are the last line; Node flags such as --trace-gc may print before it.
      const lines = out.trimEnd().split('\n');
      if (lines.length > 1) process.stderr.write(`${lines.slice(0, -1).join('\n')}\n`);
      resolve(JSON.parse(lines.at(-1)!));
    });
  });
}

/**
 * BENCH_RESTORE_PROFILE=DIR writes a CPU profile of the restore child into DIR;
 * BENCH_RESTORE_NODE_FLAGS passes Node flags to it. The child gets the heap bound the CLI's
 * `restore` runs with (src/cli/bounded-heap.ts) unless those flags set --max-old-space-size.
 */
function profileFlags(): string[] {
  const dir = process.env.BENCH_RESTORE_PROFILE;
  const extra = process.env.BENCH_RESTORE_NODE_FLAGS?.split(' ').filter((f) => f !== '') ?? [];
  const heap = extra.some((flag) => flag.startsWith('--max-old-space-size'))
    ? []
    : [`--max-old-space-size=${DEFAULT_MAX_HEAP_MB}`, `--max-semi-space-size=${MAX_SEMI_SPACE_MB}`];
  const flags = [...heap, ...extra];
  return dir === undefined ? flags : [...flags, '--cpu-prof', `--cpu-prof-dir=${dir}`];
}

function openMode(mode: string | undefined): boolean | undefined {
  if (mode === undefined || mode === '') return undefined;
  if (mode === 'worker' || mode === 'thread') return mode === 'worker';
  throw new Error(`invalid BENCH_RESTORE_OPEN "${mode}": expected worker or thread`);
}

/** The child: restore, then print the duration and this process's peak RSS. */
async function child(storeDir: string, url: string): Promise<void> {
  const identity = await loadIdentity(KEYS.identity);
  const verifyKey = await loadVerifyKey(KEYS.verify);
  const openInWorker = openMode(process.env.BENCH_RESTORE_OPEN) ?? false;
  const mainBefore = await processCpuSeconds(process.pid, process.pid);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  // NOTE: the drill report's table digests (a full scan) are measured apart, in the parent.
  const result = await restore({
    digests: false,
    store: new FileStore(storeDir),
    identities: [identity],
    verifyKey,
    to: url,
    openInWorker,
  });
  const seconds = (performance.now() - started) / 1000;
  const applied = result.streams[0]?.changesApplied;
  if (applied !== CHANGES) throw new Error(`restored ${applied} changes, expected ${CHANGES}`);
  const mainAfter = await processCpuSeconds(process.pid, process.pid);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const usage = process.resourceUsage();
  const mainCpuSeconds =
    mainBefore === undefined || mainAfter === undefined ? undefined : mainAfter - mainBefore;
  const maxRssMiB = usage.maxRSS / 1024;
  const opened = openInWorker ? 'in a worker thread' : 'on the applying thread';
  const figures = { seconds, maxRssMiB, cpuSeconds, mainCpuSeconds, opened };
  process.stdout.write(`\n${JSON.stringify(figures)}\n`);
}

if (process.argv[2] === '--restore-child') {
  await child(process.argv[3]!, process.argv[4]!);
}
