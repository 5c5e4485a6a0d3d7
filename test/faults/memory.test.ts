import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file-store.js';
import { type RunningVault, startVault } from '../../src/vault/start-vault.js';
import { checkRestored, expectHeld, formatCheck } from '../support/faults/checker.js';
import { FAULT_KEYS } from '../support/faults/fault-keys.js';
import {
  createRig,
  drained,
  type FaultMode,
  type FaultRig,
  timeToCatchUp,
} from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { mib, processTree, runCliMeasured } from '../support/faults/peak-rss.js';
import { killAllReplicators } from '../support/faults/replicator-process.js';
import { longForm, scenarioRandom } from '../support/faults/seed.js';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

/** The target of issue 6: peak RSS at most 256 MiB, for the replicator and for restore. */
const MAX_RSS_BYTES = 256 * 1024 * 1024;
/** Rows of the backlog: one million in the long form. */
const BACKLOG_ROWS = longForm() ? 1_000_000 : 50_000;
const ROWS_PER_TRANSACTION = 10_000;
/** Modes measured: logical and outbox in CI; notify (backlog in its spool) in the long form. */
const MODES: FaultMode[] = longForm() ? ['logical', 'outbox', 'notify'] : ['logical', 'outbox'];
/** Rows of several MB in 16 MiB segments: what a bounded heap must still carry. */
const LARGE_ROW_BYTES = 5 * 1024 * 1024;
const LARGE_ROWS = 12;
const LARGE_SEGMENT_BYTES = 16 * 1024 * 1024;
const WRITE = 'memory-write-token-0123456789abcdef';
const READ = 'memory-read-token-0123456789abcdef';

describe('memory while a store outage lets a backlog build, and while restoring it', () => {
  let server: TestPostgres;
  let vaultDir: string;
  let vault: RunningVault;
  let vaultPort: number;
  let proxy: TcpProxy;
  let rig: FaultRig;

  beforeAll(async () => {
    server = await startPostgres();
    vaultDir = await mkdtemp(join(tmpdir(), 'cr-faults-memory-'));
    vault = await startVault({
      store: new FileStore(vaultDir),
      writeToken: WRITE,
      readToken: READ,
      port: 0,
    });
    vaultPort = Number(new URL(vault.url).port);
    proxy = await startTcpProxy({ targetPort: vaultPort });
  });
  afterAll(async () => {
    await killAllReplicators();
    await proxy?.close();
    await vault?.close();
    await server?.destroy();
    await rig?.cleanup();
    if (vaultDir !== undefined) await rm(vaultDir, { recursive: true, force: true });
  });

  it.each(MODES)(
    `keeps the replicator and restore under 256 MiB with a backlog of ${BACKLOG_ROWS} rows (%s)`,
    async (mode) => {
      const random = scenarioRandom(`memory, backlog of ${BACKLOG_ROWS} rows (${mode})`);

      // A vault folder of its own for each mode, so the restore reads this mode's stream only.
      await rig?.cleanup();
      await vault.close();
      await rm(vaultDir, { recursive: true, force: true });
      vaultDir = await mkdtemp(join(tmpdir(), `cr-faults-memory-${mode}-`));
      vault = await startVault({
        store: new FileStore(vaultDir),
        writeToken: WRITE,
        readToken: READ,
        port: vaultPort,
      });
      rig = await createRig(server, mode, `memory_${mode}`, {
        storeUrl: vault.url,
        token: WRITE,
        readToken: READ,
      });
      const replicator = await rig.start({ storeUrl: `http://127.0.0.1:${proxy.port}` });
      await replicator.waitReady();
      const workload = new FaultWorkload({ databaseUrl: rig.sourceUrl, random });

      // The store goes away; the backlog builds in the source while the replicator waits.
      await proxy.refuse();
      const building = Date.now();
      for (let written = 0; written < BACKLOG_ROWS; written += ROWS_PER_TRANSACTION) {
        await workload.bulkInsert(Math.min(ROWS_PER_TRANSACTION, BACKLOG_ROWS - written));
      }
      const buildMs = Date.now() - building;
      const duringOutage = (await replicator.peakRssBytes()) ?? 0;

      // The store comes back; the replicator drains the backlog.
      await proxy.listen();
      const drainMs = await drained(rig, replicator, 1_800_000);
      const afterDrain = (await replicator.peakRssBytes()) ?? 0;
      expect(await replicator.stop()).toBe(0);

      // A restore of everything, as a child process, measured the same way.
      const target = await server.createDatabase(`memory_${mode}_restored`);
      const restoring = Date.now();
      const restored = await restoreMeasured(vault.url, target, { CLOUD_API_TOKEN: READ });
      const restoreMs = Date.now() - restoring;
      const result = await checkRestored({
        history: await workload.stop(),
        sourceUrl: rig.sourceUrl,
        restoredUrl: target,
      });

      console.log(
        `[faults] memory (backlog ${BACKLOG_ROWS} rows, ${mode}): replicator peak RSS ${mib(duringOutage)} ` +
          `during the outage (${buildMs} ms to write), ${mib(afterDrain)} after draining it ` +
          `(${drainMs} ms); restore peak RSS ${mib(restored.peakRssBytes)} (${restoreMs} ms)`,
      );
      console.log(formatCheck(`memory (backlog ${BACKLOG_ROWS} rows, ${mode})`, result));
      expect(restored.code, restored.stderr).toBe(0);
      // notify keeps the backlog in its spool, which may fill: losses are reported, not held to 0.
      if (mode !== 'notify') expectHeld(result);
      expect(afterDrain).toBeLessThanOrEqual(MAX_RSS_BYTES);
      expect(restored.peakRssBytes).toBeLessThanOrEqual(MAX_RSS_BYTES);
    },
    3_600_000,
  );
  it('stores and restores rows of 5 MiB in 16 MiB segments under the default heap bound', async () => {
    const random = scenarioRandom('memory, rows of 5 MiB in 16 MiB segments');
    // A folder store of its own, so the restore reads this stream only.
    const large = await createRig(server, 'logical', 'memory_large');
    try {
      const replicator = await large.start({
        args: ['--max-segment-bytes', String(LARGE_SEGMENT_BYTES)],
      });
      await replicator.waitReady();

      // The shipped CLI bounds the heap by itself: the process doing the work got the flags.
      const bounded = processTree(replicator.pid).slice(1);
      const commandLines = bounded.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      expect(commandLines.join(' ')).toContain(
        `--max-old-space-size=${process.env.CRYPTO_REPLICATOR_MAX_HEAP_MB ?? 128}`,
      );

      // Rows of 5 MiB, three to a transaction: a transaction over one segment's cap.
      const workload = new FaultWorkload({ databaseUrl: large.sourceUrl, random });
      for (let written = 0; written < LARGE_ROWS; written += 3) {
        await workload.bulkInsert(3, LARGE_ROW_BYTES);
      }
      await timeToCatchUp(large, 300_000);
      const runPeak = (await replicator.peakRssBytes()) ?? 0;
      expect(await replicator.stop(), replicator.output().slice(-2000)).toBe(0);

      // Restored by the CLI, bounded the same way.
      const target = await server.createDatabase('memory_large_restored');
      const restored = await restoreMeasured(large.storeUrl, target);
      const result = await checkRestored({
        history: await workload.stop(),
        sourceUrl: large.sourceUrl,
        restoredUrl: target,
      });
      console.log(
        `[faults] memory (${LARGE_ROWS} rows of ${mib(LARGE_ROW_BYTES)}, 16 MiB segments): ` +
          `replicator peak RSS ${mib(runPeak)}, restore peak RSS ${mib(restored.peakRssBytes)}`,
      );
      expect(restored.code, restored.stderr).toBe(0);
      expectHeld(result);
      // NOTE: no RSS bound asserted here: the 256 MiB target is for the default 4 MiB segments;
      // 16 MiB segments hold several copies of a segment outside the heap (docs/RELIABILITY.md).
      expect(runPeak).toBeGreaterThan(0);
    } finally {
      await large.cleanup();
    }
  }, 600_000);
});

/** `crypto-replicator restore` of a whole store into `target`, as a child process, measured. */
function restoreMeasured(store: string, target: string, env: Record<string, string> = {}) {
  const keys = ['--identity', FAULT_KEYS.recoveryPem, '--verify-key', FAULT_KEYS.signingPub];
  return runCliMeasured(['restore', '--store', store, ...keys, '--to', target], env);
}
