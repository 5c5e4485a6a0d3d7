import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectHeld, formatCheck } from '../support/faults/checker.js';
import { formatPhase, runFault } from '../support/faults/fault-phase.js';
import { createRig, drainAndCheck, type FaultRig } from '../support/faults/fault-rig.js';
import { FaultWorkload } from '../support/faults/fault-workload.js';
import { killAllReplicators } from '../support/faults/replicator-process.js';
import { longForm, scenarioRandom } from '../support/faults/seed.js';
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

describe('source database faults: immediate shutdown and a cut connection', () => {
  let server: TestPostgres;
  let proxy: TcpProxy;
  const rigs: FaultRig[] = [];

  beforeAll(async () => {
    // synchronous_commit on: with it off, an immediate shutdown loses the source's own last
    // commits, and the checker would blame the replicator for them.
    server = await startPostgres({ settings: { synchronous_commit: 'on' } });
    proxy = await startTcpProxy({ targetPort: server.port });
  });
  afterAll(async () => {
    await killAllReplicators();
    await proxy?.close();
    await server?.destroy();
    for (const rig of rigs) await rig.cleanup();
  });

  // Short form: logical; the long form adds outbox.
  it.each(longForm() ? (['logical', 'outbox'] as const) : (['logical'] as const))(
    'survives a source crash and a cut connection in %s mode with nothing lost',
    async (mode) => {
      const random = scenarioRandom(`source faults (${mode})`);
      const rig = await createRig(server, mode, `source_${mode}`);
      rigs.push(rig);
      const viaProxy = rig.sourceUrl.replace(`:${server.port}/`, `:${proxy.port}/`);
      const replicator = await rig.start({ databaseUrl: viaProxy });
      await replicator.waitReady();
      const workload = new FaultWorkload({ databaseUrl: rig.sourceUrl, random });
      workload.start();

      // The source stopped with an immediate shutdown, mid-workload, and started again.
      await workload.waitForCommits(random.int(10, 60));
      const crash = await runFault({
        rig,
        replicator,
        fault: 'source immediate shutdown',
        begin: () => server.crash(),
        end: () => server.start(),
      });

      // The network between replicator and source cut (connections reset, new ones refused).
      await workload.waitForCommits(random.int(10, 60));
      const cut = await runFault({
        rig,
        replicator,
        fault: 'source connection cut',
        begin: () => proxy.refuse(),
        end: () => proxy.listen(),
      });

      // Long form: a silent partition, every byte held and no connection closed (no FIN, no
      // RST). At the last run /healthz did not report it within 90 s (see docs/RELIABILITY.md).
      const phases = [crash, cut];
      if (longForm()) {
        await workload.waitForCommits(random.int(10, 60));
        phases.push(
          await runFault({
            rig,
            replicator,
            fault: 'source link stalled (silent partition)',
            begin: () => proxy.setMode({ kind: 'stall' }),
            end: () => proxy.setMode({ kind: 'pass' }),
            reportTimeoutMs: 90_000,
          }),
        );
      }

      // Drain, stop cleanly, restore and check.
      await workload.waitForCommits(20);
      const { result, exitCode } = await drainAndCheck(rig, workload, replicator);
      expect(exitCode).toBe(0);
      for (const phase of phases) console.log(formatPhase(mode, phase));
      console.log(formatCheck(`source faults (${mode})`, result));

      for (const phase of phases) expect(phase.health.unhealthy).toBeGreaterThan(0);
      expect(crash.health.reasons.join()).toMatch(/database unreachable/);
      expectHeld(result);
    },
    300_000,
  );
});
