import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCheck } from '../support/faults/checker.js';
import {
  createRig,
  drainAndCheck,
  type FaultRig,
  timeToCatchUp,
} from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { mountSmallDisk, type SmallDisk } from '../support/faults/full-disk.js';
import { watchHealth } from '../support/faults/health-watch.js';
import { killAllReplicators, tail } from '../support/faults/replicator-process.js';
import { longForm, scenarioRandom } from '../support/faults/seed.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait-for.js';

/** Room for the state folder, the spool and a store of a few hundred small segments. */
const DISK_BYTES = 32 * 1024 * 1024;

describe('the disk under the state folder, spool and store full, then freed', () => {
  let server: TestPostgres;
  let root: string;
  const disks: SmallDisk[] = [];
  const rigs: FaultRig[] = [];
  let skipped: string | undefined;

  beforeAll(async () => {
    server = await startPostgres();
    root = await mkdtemp(join(tmpdir(), 'cr-faults-disk-'));
  });
  afterAll(async () => {
    await killAllReplicators();
    for (const disk of disks) await disk.unmount();
    await server?.destroy();
    for (const rig of rigs) await rig.cleanup();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  // Short form: logical; the long form adds notify (measured, see docs/RELIABILITY.md).
  it.for(longForm() ? (['logical', 'notify'] as const) : (['logical'] as const))(
    'waits out a full disk and then stores everything (%s mode)',
    { timeout: 240_000 },
    async (mode, context) => {
      const disk = await mountSmallDisk(join(root, `disk-${mode}`), DISK_BYTES);
      if ('skipped' in disk) {
        skipped = disk.skipped;
        console.log(`[faults] full disk (${mode}): skipped: ${skipped}`);
        context.skip();
        return;
      }
      disks.push(disk);
      const random = scenarioRandom(`full disk (${mode})`);
      const rig = await createRig(server, mode, `disk_${mode}`, {
        storeUrl: join(disk.dir, 'store'),
      });
      rigs.push(rig);
      const stateDir = join(disk.dir, 'state');
      const replicator = await rig.start({ stateDir });
      await replicator.waitReady();
      const workload = new FaultWorkload({ databaseUrl: rig.sourceUrl, random, largeRowEvery: 0 });
      workload.start();
      await workload.waitForCommits(random.int(10, 50));

      // Fill the disk: the store's and the state folder's writes fail with ENOSPC. The fault
      // lasts until /healthz reports it, or the replicator exits.
      let exited: number | string | undefined;
      void replicator.exited.then((code) => {
        exited = code;
      });
      const watch = watchHealth(() => replicator.probe('/healthz'), 150);
      const filled = await disk.fill();
      await waitFor(() => watch.snapshot().unhealthy > 0 || exited !== undefined, {
        timeoutMs: 30_000,
        what: `/healthz to report the full disk, or the replicator to stop:\n${tail(replicator.output())}`,
      });
      const health = await watch.stop();
      await disk.free();

      // Freed: a replicator that stopped is started again, as an orchestrator would.
      const exitLine = /^error: .*$/m.exec(replicator.output())?.[0];
      let running = replicator;
      if (exited !== undefined) {
        console.log(`[faults] full disk (${mode}): replicator exited ${exited}: ${exitLine}`);
        running = await rig.start({ stateDir });
        await running.waitLive();
      }
      const catchUpMs = mode === 'notify' ? undefined : await timeToCatchUp(rig);
      console.log(
        `[faults] full disk (${mode}): filler ${filled} bytes; /healthz ${health.unhealthy} of ` +
          `${health.probes} probes failing (${health.reasons.join('; ') || 'none'}); ` +
          `catch-up ${catchUpMs ?? 'n/a'} ms`,
      );

      await workload.waitForCommits(20);
      const { result, exitCode } = await drainAndCheck(rig, workload, running);
      console.log(formatCheck(`full disk (${mode})`, result));
      const streams = await readdir(join(disk.dir, 'store', 'streams')).catch(() => []);
      console.log(
        `[faults] full disk (${mode}): store holds ${streams.length} stream(s); state.json: ` +
          `${await readFile(join(stateDir, 'state.json'), 'utf8').catch((e: Error) => e.message)}`,
      );
      if (result.lost > 0)
        console.log(tail(replicator.output(), 30), '\n---\n', tail(running.output(), 30));

      expect(exitCode).toBe(0);
      expect(result.duplicated).toBe(0);
      expect(result.unexpected).toBe(0);
      if (mode === 'logical') {
        expect(result.lost).toBe(0);
        expect(result.differingTables).toEqual([]);
      }
      // A full disk is a storage fault: wait it out and say so on /healthz, do not stop.
      expect(exitLine).toBeUndefined();
      expect(health.unhealthy).toBeGreaterThan(0);
    },
  );
});
